package signing

import "errors"

var (
	// ErrWrongPassword reports that an encrypted private key could not be
	// decrypted with the given password (or that the key file is corrupted).
	ErrWrongPassword = errors.New("wrong password or corrupted private key")

	// ErrInvalidKey reports a key that is not in a supported PEM format.
	ErrInvalidKey = errors.New("invalid key")

	// ErrKeyExists reports that WriteKeyPair refused to overwrite a key file.
	ErrKeyExists = errors.New("key file already exists")

	// ErrNoSignature reports that no signature made with the verifier's key
	// was found (no signature image, no layers, or none that verifies).
	ErrNoSignature = errors.New("no signature for key")

	// ErrBadSignature reports a signature that does not verify over its payload.
	ErrBadSignature = errors.New("signature does not verify")

	// ErrDigestMismatch reports a valid signature whose payload names another
	// manifest digest than the image being verified (a swapped signature).
	ErrDigestMismatch = errors.New("signed digest mismatch")

	// ErrMalformed reports a signature image, payload or signature file that
	// cannot be parsed or exceeds the size limits.
	ErrMalformed = errors.New("malformed signature")
)
