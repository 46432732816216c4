package registry

import (
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/distribution/distribution/v3/configuration"

	// The token access controller registers itself with Distribution's
	// auth factory.
	_ "github.com/distribution/distribution/v3/registry/auth/token"
)

// TokenAuth configures bearer-token authentication, the Docker token
// protocol Harbor, Quay and GitLab speak: a request without a valid token is
// answered 401 with a challenge naming Realm, Service and the scope it
// needs; the client fetches a token from Realm and repeats the request. The
// registry accepts JWTs issued by Issuer for Service and signed by a key
// whose certificate chains to RootCertBundle (the x5c header), granting the
// repository actions listed in their access claim.
type TokenAuth struct {
	// Realm is the absolute URL of the token service.
	Realm string
	// Service is the audience tokens must name; it is also sent in the
	// challenge.
	Service string
	// Issuer must equal the tokens' iss claim.
	Issuer string
	// RootCertBundle is a PEM file of the certificates trusted to sign
	// tokens. The file must exist.
	RootCertBundle string
}

// parameters checks t and translates it into the options of Distribution's
// token access controller.
func (t *TokenAuth) parameters() (configuration.Parameters, error) {
	if t.Realm == "" || t.Service == "" || t.Issuer == "" || t.RootCertBundle == "" {
		return nil, errors.New("registry token auth: Realm, Service, Issuer and RootCertBundle are all required")
	}
	u, err := url.Parse(t.Realm)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("registry token auth: realm %q: want an absolute http(s) URL", t.Realm)
	}
	// Distribution would panic on a missing bundle; say which file instead.
	if _, err := os.Stat(t.RootCertBundle); err != nil {
		return nil, fmt.Errorf("registry token auth: root certificate bundle %s: %w", t.RootCertBundle, err)
	}
	return configuration.Parameters{
		"realm":          t.Realm,
		"service":        t.Service,
		"issuer":         t.Issuer,
		"rootcertbundle": t.RootCertBundle,
	}, nil
}
