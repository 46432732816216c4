package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// Signer signs payloads with a private key. The key-file implementation comes
// from LoadSigner; a KMS-backed one can implement the same interface.
type Signer interface {
	// PublicKey returns the public half of the signing key.
	PublicKey() crypto.PublicKey
	// Sign returns the raw signature over payload, as cosign makes it
	// (ASN.1 ECDSA over SHA-256 for cosign's default keys).
	Sign(ctx context.Context, payload []byte) ([]byte, error)
}

// Verifier checks signatures made with one public key.
type Verifier interface {
	// PublicKey returns the key signatures are checked against.
	PublicKey() crypto.PublicKey
	// Verify returns nil if sig is a valid raw signature over payload.
	Verify(ctx context.Context, payload, sig []byte) error
}

// GenerateKeyPair returns a new ECDSA P-256 key pair in the format
// `cosign generate-key-pair` writes: priv is the private key encrypted with
// password (PEM "ENCRYPTED SIGSTORE PRIVATE KEY"), pub the PEM public key. An
// empty password is allowed, as in cosign, but leaves the key weakly protected.
func GenerateKeyPair(password []byte) (priv, pub []byte, err error) {
	pass := bytes.Clone(password)
	if pass == nil {
		pass = []byte{}
	}
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return pass, nil })
	if err != nil {
		return nil, nil, fmt.Errorf("generate key pair: %w", err)
	}
	return kb.PrivateBytes, kb.PublicBytes, nil
}

// LoadSigner decrypts a cosign private key (what GenerateKeyPair or
// `cosign generate-key-pair` wrote) with password. A wrong password yields an
// error wrapping ErrWrongPassword; a file that is not a cosign private key
// one wrapping ErrInvalidKey.
func LoadSigner(keyPEM, password []byte) (Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("private key: no PEM block found: %w", ErrInvalidKey)
	}
	if block.Type != cosign.CosignPrivateKeyPemType && block.Type != cosign.SigstorePrivateKeyPemType {
		return nil, fmt.Errorf("private key: PEM type %q, want %q (a key from `cosign generate-key-pair`): %w",
			block.Type, cosign.SigstorePrivateKeyPemType, ErrInvalidKey)
	}
	pass := password
	if pass == nil {
		pass = []byte{}
	}
	sv, err := cosign.LoadPrivateKey(keyPEM, pass, nil)
	if err != nil {
		// go-securesystemslib reports a failed secretbox open as
		// "encrypted: decryption failed": the only cause is a wrong password
		// or altered ciphertext.
		if strings.Contains(err.Error(), "decryption failed") {
			return nil, fmt.Errorf("private key: decrypt: check the password (COSIGN_PASSWORD): %w", ErrWrongPassword)
		}
		return nil, fmt.Errorf("private key: %w: %w", ErrInvalidKey, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("private key: public key: %w", err)
	}
	if _, ok := pub.(ed25519.PublicKey); ok {
		// cosign signs with Ed25519ph but verifies --key with pure Ed25519.
		return nil, fmt.Errorf("private key: ed25519 keys are not supported, use an ECDSA key from `cosign generate-key-pair`: %w", ErrInvalidKey)
	}
	return &keySigner{sv: sv, pub: pub}, nil
}

// LoadVerifier parses a PEM public key (cosign.pub, or the Istio release key)
// the way `cosign verify --key` does. Private keys are refused.
func LoadVerifier(pubPEM []byte) (Verifier, error) {
	block, _ := pem.Decode(pubPEM)
	if block == nil {
		return nil, fmt.Errorf("public key: no PEM block found: %w", ErrInvalidKey)
	}
	if strings.Contains(block.Type, "PRIVATE") {
		return nil, fmt.Errorf("public key: got a %q PEM block; pass the public key (cosign.pub): %w", block.Type, ErrInvalidKey)
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("public key: %w: %w", ErrInvalidKey, err)
	}
	return newKeyVerifier(pub)
}

// Fingerprint returns "sha256:<hex>" of the PKIX DER encoding of pub, a
// stable key identifier for reports and logs.
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint: marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// MarshalPublicKey returns pub as a PEM "PUBLIC KEY" block, the format of
// cosign.pub.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	b, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	return b, nil
}

// keySigner is a Signer over a decrypted cosign private key.
type keySigner struct {
	sv  signature.SignerVerifier
	pub crypto.PublicKey
}

func (k *keySigner) PublicKey() crypto.PublicKey { return k.pub }

func (k *keySigner) Sign(ctx context.Context, payload []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sig, err := k.sv.SignMessage(bytes.NewReader(payload), options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}

// keyVerifier is a Verifier over a public key, loaded with the hash cosign
// uses for `verify --key` (SHA-256).
type keyVerifier struct {
	v   signature.Verifier
	pub crypto.PublicKey
}

func newKeyVerifier(pub crypto.PublicKey) (*keyVerifier, error) {
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("public key: %w: %w", ErrInvalidKey, err)
	}
	return &keyVerifier{v: v, pub: pub}, nil
}

func (k *keyVerifier) PublicKey() crypto.PublicKey { return k.pub }

func (k *keyVerifier) Verify(ctx context.Context, payload, sig []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := k.v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(payload), options.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// sigstoreVerifier adapts a Verifier to the sigstore signature.Verifier that
// cosign's verification functions take. The context comes from the
// options.WithContext option cosign passes on each call.
type sigstoreVerifier struct {
	v Verifier
}

func (a sigstoreVerifier) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return a.v.PublicKey(), nil
}

func (a sigstoreVerifier) VerifySignature(sig, msg io.Reader, opts ...signature.VerifyOption) error {
	ctx := context.Background()
	for _, o := range opts {
		o.ApplyContext(&ctx)
	}
	s, err := io.ReadAll(io.LimitReader(sig, maxSignatureSize+1))
	if err != nil {
		return fmt.Errorf("read signature: %w", err)
	}
	if len(s) > maxSignatureSize {
		return fmt.Errorf("signature larger than %d bytes: %w", maxSignatureSize, ErrMalformed)
	}
	m, err := io.ReadAll(io.LimitReader(msg, maxBlobSize+1))
	if err != nil {
		return fmt.Errorf("read payload: %w", err)
	}
	if len(m) > maxBlobSize {
		return fmt.Errorf("payload larger than %d bytes: %w", maxBlobSize, ErrMalformed)
	}
	return a.v.Verify(ctx, m, s)
}

// verifierFor returns a Verifier for the signer's own public key.
func verifierFor(s Signer) (Verifier, error) {
	pub := s.PublicKey()
	if pub == nil {
		return nil, errors.New("signer has no public key")
	}
	return newKeyVerifier(pub)
}
