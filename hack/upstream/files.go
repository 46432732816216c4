package upstream

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Upstream locations of the Kiali Helm repo and the Gateway API release
// assets (istio-facts §5.2, §6.2).
const (
	kialiChartRepo    = "https://kiali.org/helm-charts"
	gatewayAPIRelease = "https://github.com/kubernetes-sigs/gateway-api/releases/download"
	gatewayAPISource  = "v1.5.1"
)

// gatewayAPIBoilerplate is hack/boilerplate/boilerplate.sh.txt of
// kubernetes-sigs/gateway-api, the license header of the install files.
const gatewayAPIBoilerplate = `# Copyright The Kubernetes Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

`

var bundleVersion = regexp.MustCompile(`(gateway\.networking\.k8s\.io/bundle-version: )v1\.5\.1\b`)

// gatewayAPIInstall builds <channel>-install.yaml of Gateway API version
// like upstream hack/build-install-yaml.sh: the boilerplate, a channel
// banner, then for each config/crd/<channel>/gateway*.yaml in glob order
// "---", "#", "# <path>", "#" and the file. The standard channel is the
// top-level testdata files, experimental the experimental/ ones
// (kustomization.yaml is not a gateway*.yaml, so it is left out). Versions
// other than v1.5.1 reuse the v1.5.1 CRDs with their bundle-version label
// rewritten: an approximation for resolver and mirror tests.
func gatewayAPIInstall(testdata, version, channel string) ([]byte, error) {
	dir := filepath.Join(testdata, "gateway-api-"+gatewayAPISource)
	if channel == "experimental" {
		dir = filepath.Join(dir, "experimental")
	}
	names, err := filepath.Glob(filepath.Join(dir, "gateway*.yaml"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("gateway api %s %s: no gateway*.yaml in %s (%v)", version, channel, dir, err)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	buf.WriteString(gatewayAPIBoilerplate)
	fmt.Fprintf(&buf, "#\n# Gateway API %s channel install\n#\n", strings.ToUpper(channel[:1])+channel[1:])
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("gateway api %s %s: %w", version, channel, err)
		}
		if version != gatewayAPISource {
			b = bundleVersion.ReplaceAll(b, []byte("${1}"+version))
		}
		fmt.Fprintf(&buf, "---\n#\n# config/crd/%s/%s\n#\n", channel, filepath.Base(n))
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
