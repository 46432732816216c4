package pack

import (
	"fmt"

	"github.com/lattice-mesh/meshpack/manifests"
	"github.com/lattice-mesh/meshpack/signing"
)

// upstreamKeys checks that every given key is named in the catalog and adds
// a verifier for each catalog key that carries its public key.
func upstreamKeys(cat *manifests.Catalog, given map[string]signing.Verifier) (map[string]signing.Verifier, error) {
	out := make(map[string]signing.Verifier, len(given)+len(cat.SigningKeys))
	for name, v := range given {
		if cat.SigningKey(name) == nil {
			return nil, &KeyError{Name: name, Known: keyNames(cat), Err: ErrUnknownKey}
		}
		out[name] = v
	}
	for _, k := range cat.SigningKeys {
		if _, ok := out[k.Name]; ok || k.PublicKey == "" {
			continue
		}
		v, err := signing.LoadVerifier([]byte(k.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("catalog signing key %s: %w", k.Name, err)
		}
		out[k.Name] = v
	}
	return out, nil
}

// checkSpecKeys predicts, from the catalog alone, which key signs the Istio
// images spec asks for, and fails if it was not given. Anything the catalog
// cannot answer is left to resolve, which reports it.
func checkSpecKeys(cat *manifests.Catalog, spec manifests.Spec, keys map[string]signing.Verifier) error {
	if !spec.HasIstio() {
		return nil
	}
	res, err := cat.ResolveIstio(spec.Istio.Version)
	if err != nil {
		return nil
	}
	variants := []string{spec.Istio.Variant}
	if spec.Istio.Variant == manifests.VariantBoth {
		variants = []string{manifests.VariantDefault, manifests.VariantDistroless}
	}
	images, err := cat.ExpectedImages(res.Version, manifests.ImageOptions{
		Profile: spec.Istio.Profile, Variants: variants, CNI: spec.Istio.CNI, Agentgateway: spec.Istio.Agentgateway,
	})
	if err != nil {
		return nil
	}
	for _, img := range images {
		if err := needKey(cat, img.Reference, img.SignedBy, keys); err != nil {
			return err
		}
	}
	return nil
}

// checkLockKeys fails for the first image of lock signed by a key that was
// not given.
func checkLockKeys(cat *manifests.Catalog, lock *manifests.Lock, keys map[string]signing.Verifier) error {
	for _, img := range lock.Images {
		if err := needKey(cat, img.Reference, img.SignedBy, keys); err != nil {
			return err
		}
	}
	return nil
}

func needKey(cat *manifests.Catalog, subject, name string, keys map[string]signing.Verifier) error {
	if name == "" || keys[name] != nil {
		return nil
	}
	e := &KeyError{Name: name, Subject: subject, Err: ErrMissingKey}
	if k := cat.SigningKey(name); k != nil {
		e.URL = k.URL
	}
	return e
}

func keyNames(cat *manifests.Catalog) []string {
	names := make([]string, len(cat.SigningKeys))
	for i, k := range cat.SigningKeys {
		names[i] = k.Name
	}
	return names
}
