package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// pingAttempts is how often Ping asks a registry that answers 5xx.
const pingAttempts = 3

// Ping checks once that the registry at host (HOST[:PORT]) answers the OCI
// distribution API (GET /v2/) and, when it asks for credentials, that the
// configured ones are accepted. Each attempt waits at most the stall
// timeout (a registry that accepts connections but never answers fails in
// that time), a 401 is never retried, and 5xx answers are asked again up to
// three times. The scheme is chosen as for RepositoryAt.
func (c *Client) Ping(ctx context.Context, host string) error {
	scheme := "https"
	if c.opts.PlainHTTP || c.plainLoopback(ctx, host) {
		scheme = "http"
	}
	u := scheme + "://" + host + "/v2/"
	probe := &http.Client{Transport: &stallTransport{next: c.base, stall: c.stall, header: c.stall}}
	var resp *http.Response
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", c.userAgent)
		resp, err = probe.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &kindError{kind: ErrUnreachable, err: err}
		}
		drain(resp)
		if resp.StatusCode < 500 || attempt == pingAttempts {
			break
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return err
		}
		backoff *= 2
	}
	switch code := resp.StatusCode; {
	case code >= 500:
		return &kindError{kind: ErrUnreachable, msg: fmt.Sprintf("GET %s answered %s %d times", u, resp.Status, pingAttempts)}
	case code == http.StatusNotFound:
		return &kindError{kind: ErrNotRegistry, msg: fmt.Sprintf("GET %s answered %s", u, resp.Status)}
	case code == http.StatusUnauthorized, code == http.StatusForbidden:
		return c.pingAuth(ctx, host, u, resp)
	}
	return nil
}

// pingAuth repeats GET /v2/ through the authenticating client after a 401
// or 403 (anon), unless that cannot help: basic auth and no credentials.
func (c *Client) pingAuth(ctx context.Context, host, u string, anon *http.Response) error {
	cred, err := c.creds(ctx, host)
	has := err == nil && cred != auth.EmptyCredential
	noCreds := &kindError{kind: ErrNoCredentials, msg: fmt.Sprintf("GET %s answered %s", u, anon.Status)}
	challenge := strings.ToLower(anon.Header.Get("Www-Authenticate"))
	if !has && !strings.HasPrefix(challenge, "bearer") {
		return noCreds
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.auth.Do(req)
	if err == nil {
		drain(resp)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			// Anonymous tokens (bearer) or the credentials worked.
			return nil
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrStalled) {
		return &kindError{kind: ErrUnreachable, err: err}
	}
	if !has {
		return noCreds
	}
	who := "the configured credentials"
	if cred.Username != "" {
		who = "the credentials of user " + cred.Username
	}
	if err != nil {
		return &kindError{kind: ErrCredentialsRejected, msg: fmt.Sprintf("GET %s with %s", u, who), err: err}
	}
	return &kindError{kind: ErrCredentialsRejected, msg: fmt.Sprintf("GET %s with %s answered %s", u, who, resp.Status)}
}

// HasCredential reports whether credentials are configured for host
// (Options.Username, or the docker config).
func (c *Client) HasCredential(ctx context.Context, host string) bool {
	cred, err := c.creds(ctx, host)
	return err == nil && cred != auth.EmptyCredential
}

// StallTimeout is the effective stall deadline (0 when disabled).
func (c *Client) StallTimeout() time.Duration { return c.stall }

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
