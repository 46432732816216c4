// Package remote is meshpack's one network layer: every registry and HTTP
// request goes through it. A Client holds what is common to all of them —
// mirror rewriting (Options.Mirrors), the Docker Hub host mapping,
// credentials from the docker config or explicit ones, TLS options, retries
// with backoff and stall deadlines — so every network knob behaves the same
// on the connected side (resolve, bundle create) and in the enclave (bundle
// load).
//
// A Repository is one repository of a registry. It reads like an oras-go
// Target (Fetch, Exists, Resolve) and speaks the push side of the OCI
// distribution API, which oras-go does not expose at this level:
//
//   - blobs: BlobExists (HEAD), MountBlob (cross-repository mount),
//     StartUpload and UploadStatus (upload sessions), and UploadBlob, which
//     sends one blob into a session in a single PUT or in PATCH chunks,
//     continuing from the byte the registry reports;
//   - manifests: ManifestDigest (GET, hashing what is served) and
//     PushManifest (PUT by digest or tag, confirmed by a GET).
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md
//
// Every method that can block takes a context first. Registry answers are
// turned into sentinel errors here (ErrUnauthorized, ErrNotFound,
// ErrTemporary, …, see errors.go); callers test them with errors.Is and
// never read a status code. Errors name requests and registries, never
// command-line flags: the caller knows how its options are spelled.
//
// Callers decide policy: how often to retry an upload, when to switch to
// chunks, what to record for a resume. The orchestration (mirror) never
// builds a request.
package remote
