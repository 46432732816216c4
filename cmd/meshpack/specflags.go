package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lattice-mesh/meshpack/manifests"
)

// specFlags are the flags that build or override a MeshBundle spec.
type specFlags struct {
	file             string
	istio            string
	profile          string
	variant          string
	ingressGateway   bool
	cni              bool
	agentgateway     bool
	kiali            string
	kialiVersion     string
	prometheusURL    string
	gatewayAPI       string
	gatewayChannel   string
	kubernetes       string
	platforms        []string
	istioctl         []string
	images           []string
	catalog          string
	user             userFlags
	allowUnsupported bool
	catalogOnly      bool
}

func (f *specFlags) register(fs *pflag.FlagSet) {
	fs.StringVarP(&f.file, "file", "f", "", "MeshBundle spec (mesh.yaml); flags override its fields")
	fs.StringVar(&f.istio, "istio", "", `Istio version: a minor ("1.30"), exact ("1.30.3") or "none"`)
	fs.StringVar(&f.profile, "profile", "", "data-plane mode: sidecar|ambient (default sidecar)")
	fs.StringVar(&f.variant, "variant", "", "image variant: default|distroless|both (default: the profile's, distroless for ambient)")
	fs.BoolVar(&f.ingressGateway, "ingress-gateway", false, "add the Istio ingress gateway chart")
	fs.BoolVar(&f.cni, "cni", false, "add istio-cni in sidecar mode (ambient always has it)")
	fs.BoolVar(&f.agentgateway, "agentgateway", false, "add the agentgateway image (Istio 1.29+)")
	fs.StringVar(&f.kiali, "kiali", "", `add Kiali: --kiali (catalog version), --kiali=2.26 or --kiali=false`)
	fs.Lookup("kiali").NoOptDefVal = "true"
	fs.StringVar(&f.kialiVersion, "kiali-version", "", "Kiali version (implies --kiali)")
	fs.StringVar(&f.prometheusURL, "prometheus-url", "", "an existing Prometheus for Kiali to read (e.g. http://prometheus.monitoring:9090): no Prometheus is carried (default: carry the one Istio ships for Kiali)")
	fs.StringVar(&f.gatewayAPI, "gateway-api", "", `Gateway API CRDs version ("v1.5.1"), or "none" to leave them out`)
	fs.StringVar(&f.gatewayChannel, "gateway-api-channel", "", "Gateway API channel: standard|experimental")
	fs.StringVar(&f.kubernetes, "kubernetes-version", "", "target cluster Kubernetes version, checked against the set (e.g. 1.33)")
	fs.StringSliceVar(&f.platforms, "platform", nil, "platforms to carry, e.g. linux/amd64,linux/arm64 (default all)")
	fs.StringSliceVar(&f.istioctl, "istioctl", nil, "carry istioctl release archives: --istioctl for the --platform platforms (default linux/amd64,linux/arm64), or --istioctl=linux/amd64,darwin/arm64")
	fs.Lookup("istioctl").NoOptDefVal = istioctlAuto
	fs.StringArrayVar(&f.images, "image", nil, "extra image to carry (repeatable), e.g. registry.example.com/team/app:1.4")
	f.user.register(fs)
	fs.StringVar(&f.catalog, "catalog", "", "version catalog YAML to use instead of the embedded one")
	fs.BoolVar(&f.catalogOnly, "catalog-only", false, "resolve a bare minor to the catalog's newest patch, without asking upstream for newer ones")
	fs.BoolVar(&f.allowUnsupported, "allow-unsupported", false, "allow a version set the catalog marks incompatible (recorded in the lock)")
}

// fileArgs is the Args validator of commands taking spec flags and at most
// max file arguments; it returns the files. An argument that looks like a
// version while --kiali was given bare is Kiali's version, so that
// "--kiali 2.26.0" means what it says (pflag reads it as --kiali followed
// by an argument, since --kiali alone is allowed too).
func (f *specFlags) fileArgs(cmd *cobra.Command, args []string, max int) ([]string, error) {
	var files []string
	bareKiali := cmd.Flags().Changed("kiali") && f.kiali == "true"
	bareIstioctl := cmd.Flags().Changed("istioctl") && slices.Equal(f.istioctl, []string{istioctlAuto})
	for _, a := range args {
		if bareKiali && versionLike.MatchString(a) {
			f.kiali, bareKiali = a, false
			continue
		}
		if bareIstioctl && platformListLike.MatchString(a) {
			f.istioctl, bareIstioctl = strings.Split(a, ","), false
			continue
		}
		files = append(files, a)
	}
	if len(files) > max {
		return nil, usagef("unexpected argument %q (flags take values as --flag VALUE; Kiali's version: --kiali=2.26 or --kiali-version 2.26)", files[max])
	}
	return files, nil
}

// istioctlAuto is the value of a bare --istioctl: the platforms carried.
const istioctlAuto = "auto"

// platformListLike matches "linux/amd64" and "linux/amd64,darwin/arm64".
var platformListLike = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?(,[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?)*$`)

// istioctlPlatforms turns --istioctl into the spec's list: a bare flag
// means the platforms carried (--platform), linux/amd64 and linux/arm64
// when every platform is; "none" or "false" means none.
func istioctlPlatforms(flag, platforms []string) []string {
	switch {
	case slices.Equal(flag, []string{istioctlAuto}) && len(platforms) > 0:
		return slices.Clone(platforms)
	case slices.Equal(flag, []string{istioctlAuto}):
		return []string{"linux/amd64", "linux/arm64"}
	case slices.Equal(flag, []string{"none"}) || slices.Equal(flag, []string{"false"}):
		return nil
	}
	return flag
}

// versionLike matches "2.26", "v2.26.0" and the like.
var versionLike = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.-]+)?$`)

// istioVersion is what --istio and istio.version accept besides "none": a
// minor, an exact version or an upstream pre-release (1.31.0-rc.0).
var istioVersion = regexp.MustCompile(`^v?\d+\.\d+(\.\d+(-(alpha|beta|rc)\.\d+)?)?$`)

// checkIstioVersion refuses a version with a tag suffix such as
// "1.30.3-distroless" before anything is looked up: the suffix is an image
// variant, chosen with --variant.
func checkIstioVersion(v string) error {
	v = strings.TrimSpace(v)
	if v == "" || v == manifests.IstioNone || istioVersion.MatchString(v) {
		return nil
	}
	if base, suffix, ok := strings.Cut(v, "-"); ok && istioVersion.MatchString(base) {
		switch suffix {
		case manifests.VariantDistroless:
			return usagef("istio version %q: %q is an image variant, not part of the version; use --istio %s --variant %s (istio.variant in a spec file)", v, suffix, base, suffix)
		case "debug":
			return usagef("istio version %q: %q is a tag of the default image variant, not part of the version; use --istio %s", v, suffix, base)
		}
	}
	return usagef("istio version %q: want a minor (1.30), an exact version (1.30.3), a pre-release (1.31.0-rc.0) or none", v)
}

// spec reads -f (if any) and applies the flags that were set.
func (f *specFlags) spec(cmd *cobra.Command, mirrors []manifests.Mirror) (manifests.Spec, error) {
	var s manifests.Spec
	if f.file != "" {
		if err := specFileIsURL(f.file); err != nil {
			return s, err
		}
		fh, err := os.Open(f.file)
		if err != nil {
			return s, usagef("spec: %v", err)
		}
		defer fh.Close()
		loaded, err := manifests.LoadSpec(fh)
		if err != nil {
			return s, fmt.Errorf("%s: %w", f.file, err)
		}
		s = *loaded
	}
	changed := cmd.Flags().Changed
	if changed("istio") {
		s.Istio.Version = f.istio
	}
	if changed("profile") {
		s.Istio.Profile = f.profile
	}
	if changed("variant") {
		s.Istio.Variant = f.variant
	}
	if changed("ingress-gateway") {
		s.Istio.IngressGateway = f.ingressGateway
	}
	if changed("cni") {
		s.Istio.CNI = f.cni
	}
	if changed("agentgateway") {
		s.Istio.Agentgateway = f.agentgateway
	}
	if changed("kiali") {
		if on, err := strconv.ParseBool(f.kiali); err == nil {
			s.Kiali.Enabled = on
		} else {
			s.Kiali.Enabled, s.Kiali.Version = true, f.kiali
		}
	}
	if changed("kiali-version") {
		s.Kiali.Enabled, s.Kiali.Version = true, f.kialiVersion
	}
	if changed("prometheus-url") {
		s.Kiali.PrometheusURL = f.prometheusURL
	}
	if changed("gateway-api") {
		on := f.gatewayAPI != "none" && f.gatewayAPI != "false"
		s.GatewayAPI.Enabled = &on
		if on {
			s.GatewayAPI.Version = f.gatewayAPI
		}
	}
	if changed("gateway-api-channel") {
		s.GatewayAPI.Channel = f.gatewayChannel
	}
	if changed("kubernetes-version") {
		s.Kubernetes.Version = f.kubernetes
	}
	if changed("platform") {
		if err := checkPlatformList(f.platforms); err != nil {
			return s, err
		}
		s.Platforms = f.platforms
	}
	if changed("istioctl") {
		s.Istio.Istioctl = istioctlPlatforms(f.istioctl, s.Platforms)
	}
	s.ExtraImages = append(s.ExtraImages, f.images...)
	if err := f.user.apply(f.file, &s); err != nil {
		return s, err
	}
	s.Mirrors = append(s.Mirrors, mirrors...)
	if s.Istio.Version == "" && f.file == "" {
		return s, usagef("say what to carry: --istio 1.30 (or none with --image), or -f mesh.yaml")
	}
	if err := checkIstioVersion(s.Istio.Version); err != nil {
		return s, err
	}
	s.Normalize()
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// checkPlatformList refuses empty elements in --platform: "--platform ,,"
// or an empty --platform would otherwise leave an empty filter, which means
// every platform.
func checkPlatformList(platforms []string) error {
	if len(platforms) == 0 {
		return usagef("--platform: empty list; name the platforms, e.g. --platform linux/amd64,linux/arm64, or leave the flag out to carry all of them")
	}
	for i, p := range platforms {
		if strings.TrimSpace(p) == "" {
			return usagef("--platform %q: element %d is empty; name each platform, e.g. linux/amd64,linux/arm64", strings.Join(platforms, ","), i+1)
		}
	}
	return nil
}

// loadCatalog returns the embedded catalog or --catalog.
func (f *specFlags) loadCatalog() (*manifests.Catalog, error) {
	if f.catalog == "" {
		return manifests.DefaultCatalog()
	}
	fh, err := os.Open(f.catalog)
	if err != nil {
		return nil, usagef("catalog: %v", err)
	}
	defer fh.Close()
	c, err := manifests.LoadCatalog(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.catalog, err)
	}
	return c, nil
}
