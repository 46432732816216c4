package signing

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
)

func TestSignVerifyBlob(t *testing.T) {
	ctx := context.Background()
	k := newTestKey(t, "pw")
	other := newTestKey(t, "")
	bom := []byte(`{"schemaVersion":1,"artifacts":[]}`)
	sig, err := SignBlob(ctx, k.signer, bom)
	if err != nil {
		t.Fatalf("SignBlob: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(sig))
	if err != nil {
		t.Fatalf("got signature %q, want base64: %v", sig, err)
	}
	for _, tc := range []struct {
		name     string
		verifier Verifier
		data     []byte
		sig      []byte
		wantErr  error
	}{
		{name: "round trip", verifier: k.verifier, data: bom, sig: sig},
		{name: "trailing newline", verifier: k.verifier, data: bom, sig: append(append([]byte{}, sig...), '\n')},
		{name: "raw signature", verifier: k.verifier, data: bom, sig: raw},
		{name: "wrong key", verifier: other.verifier, data: bom, sig: sig, wantErr: ErrBadSignature},
		{name: "tampered data", verifier: k.verifier, data: append([]byte(" "), bom...), sig: sig, wantErr: ErrBadSignature},
		{name: "empty signature", verifier: k.verifier, data: bom, sig: nil, wantErr: ErrMalformed},
		{name: "garbage signature", verifier: k.verifier, data: bom, sig: []byte("not a signature"), wantErr: ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyBlob(ctx, tc.verifier, tc.data, tc.sig)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got error %v, want %v", err, tc.wantErr)
			}
		})
	}
}
