package mediatype

// CycloneDXJSON is the media type of a CycloneDX JSON document: the bundle
// SBOM (meshpack/sbom.cdx.json), its layer and the artifactType of the
// referrer artifact load attaches to every image.
const CycloneDXJSON = "application/vnd.cyclonedx+json"
