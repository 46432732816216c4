package signing

import (
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateKeyPairFormat(t *testing.T) {
	priv, pub, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatalf("GenerateKeyPair: %v", err)
	}
	for _, tc := range []struct {
		name, pemData, wantType string
	}{
		{"private", string(priv), "ENCRYPTED SIGSTORE PRIVATE KEY"},
		{"public", string(pub), "PUBLIC KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rest := pem.Decode([]byte(tc.pemData))
			if b == nil {
				t.Fatalf("no PEM block in %q", tc.pemData)
			}
			if b.Type != tc.wantType {
				t.Errorf("got PEM type %q, want %q", b.Type, tc.wantType)
			}
			if len(strings.TrimSpace(string(rest))) != 0 {
				t.Errorf("got trailing data %q, want none", rest)
			}
		})
	}
}

func TestLoadSigner(t *testing.T) {
	k := newTestKey(t, "correct horse")
	_, pub2, err := GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		key      []byte
		password string
		wantErr  error
	}{
		{name: "right password", key: k.priv, password: "correct horse"},
		{name: "wrong password", key: k.priv, password: "battery staple", wantErr: ErrWrongPassword},
		{name: "empty password for protected key", key: k.priv, password: "", wantErr: ErrWrongPassword},
		{name: "public key", key: pub2, password: "", wantErr: ErrInvalidKey},
		{name: "not PEM", key: []byte("hello"), wantErr: ErrInvalidKey},
		{name: "plain EC key", key: []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), wantErr: ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSigner(tc.key, []byte(tc.password))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSigner: %v", err)
			}
			sig, err := s.Sign(context.Background(), []byte("payload"))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := k.verifier.Verify(context.Background(), []byte("payload"), sig); err != nil {
				t.Errorf("got %v verifying with the matching public key, want nil", err)
			}
		})
	}
}

func TestWrongPasswordMessage(t *testing.T) {
	k := newTestKey(t, "a")
	_, err := LoadSigner(k.priv, []byte("b"))
	if err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("got error %v, want one that mentions the password", err)
	}
}

func TestLoadVerifier(t *testing.T) {
	k := newTestKey(t, "")
	for _, tc := range []struct {
		name    string
		key     []byte
		wantErr error
	}{
		{name: "public key", key: k.pub},
		{name: "private key refused", key: k.priv, wantErr: ErrInvalidKey},
		{name: "garbage", key: []byte("nope"), wantErr: ErrInvalidKey},
		{name: "bad DER", key: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), wantErr: ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadVerifier(tc.key)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("LoadVerifier: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	k := newTestKey(t, "")
	other := newTestKey(t, "")
	a, err := Fingerprint(k.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fingerprint(k.verifier.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Fingerprint(other.verifier.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("got signer fingerprint %s and verifier fingerprint %s, want equal", a, b)
	}
	if a == c {
		t.Errorf("got the same fingerprint %s for two keys, want different", a)
	}
	if !strings.HasPrefix(a, "sha256:") || len(a) != len("sha256:")+64 {
		t.Errorf("got fingerprint %q, want sha256:<64 hex>", a)
	}
	pemKey, err := MarshalPublicKey(k.signer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if string(pemKey) != string(k.pub) {
		t.Errorf("got MarshalPublicKey %q, want %q", pemKey, k.pub)
	}
}

func TestWriteKeyPair(t *testing.T) {
	t.Run("writes pair with modes", func(t *testing.T) {
		dir := t.TempDir()
		keyPath, pubPath, err := WriteKeyPair(dir, []byte("pw"), KeyFileOptions{})
		if err != nil {
			t.Fatalf("WriteKeyPair: %v", err)
		}
		for _, tc := range []struct {
			path string
			mode os.FileMode
		}{{keyPath, 0o600}, {pubPath, 0o644}} {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tc.mode {
				t.Errorf("%s: got mode %v, want %v", tc.path, fi.Mode().Perm(), tc.mode)
			}
		}
		priv, _ := os.ReadFile(keyPath)
		pub, _ := os.ReadFile(pubPath)
		s, err := LoadSigner(priv, []byte("pw"))
		if err != nil {
			t.Fatalf("LoadSigner(%s): %v", keyPath, err)
		}
		v, err := LoadVerifier(pub)
		if err != nil {
			t.Fatalf("LoadVerifier(%s): %v", pubPath, err)
		}
		sig, err := SignBlob(context.Background(), s, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyBlob(context.Background(), v, []byte("x"), sig); err != nil {
			t.Errorf("got %v, want the written pair to match", err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Errorf("got %d files in %s, want 2 (no temporary files left)", len(entries), dir)
		}
	})
	for _, tc := range []struct {
		name      string
		existing  string
		overwrite bool
		wantErr   error
	}{
		{name: "refuses existing key", existing: PrivateKeyFile, wantErr: ErrKeyExists},
		{name: "refuses existing pub", existing: PublicKeyFile, wantErr: ErrKeyExists},
		{name: "overwrites when asked", existing: PrivateKeyFile, overwrite: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, tc.existing)
			if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := WriteKeyPair(dir, nil, KeyFileOptions{Overwrite: tc.overwrite})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got error %v, want %v", err, tc.wantErr)
			}
			got, _ := os.ReadFile(old)
			if tc.wantErr != nil && string(got) != "old" {
				t.Errorf("got %s content %q, want it untouched", tc.existing, got)
			}
			if tc.wantErr == nil && string(got) == "old" {
				t.Errorf("got %s unchanged, want it overwritten", tc.existing)
			}
		})
	}
}
