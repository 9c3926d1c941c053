package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// The SBOM is CycloneDX 1.5 JSON: the modules linked into meshd (read from the built binary,
// so that test-only modules are not listed), the Go standard library it was built with, and the
// module graph's edges between them (go mod graph).

type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp string       `json:"timestamp"`
	Component cdxComponent `json:"component"`
}

type cdxComponent struct {
	Type     string       `json:"type"`
	BOMRef   string       `json:"bom-ref"`
	Name     string       `json:"name"`
	Version  string       `json:"version"`
	PURL     string       `json:"purl"`
	Licenses []cdxLicense `json:"licenses,omitempty"`
}

type cdxLicense struct {
	License struct {
		ID string `json:"id"`
	} `json:"license"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// sbomName is the SBOM's file name.
func sbomName(s stamp) string { return fmt.Sprintf("meshd-%s.cdx.json", s.Version) }

func purl(path, version string) string { return "pkg:golang/" + path + "@" + version }

// writeSBOM writes the CycloneDX SBOM of binary into out.
func writeSBOM(root string, s stamp, binary, out string) (string, error) {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("sbom: %w", err)
	}
	self := cdxComponent{Type: "application", Name: info.Main.Path, Version: s.Version, PURL: purl(info.Main.Path, "v"+s.Version)}
	self.BOMRef = self.PURL
	var mit cdxLicense
	mit.License.ID = "MIT"
	self.Licenses = []cdxLicense{mit}

	stdlib := cdxComponent{Type: "library", Name: "stdlib", Version: info.GoVersion, PURL: purl("stdlib", info.GoVersion)}
	stdlib.BOMRef = stdlib.PURL
	comps := []cdxComponent{stdlib}
	refs := map[string]string{info.Main.Path: self.BOMRef} // module path → bom-ref
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		c := cdxComponent{Type: "library", Name: m.Path, Version: m.Version, PURL: purl(m.Path, m.Version)}
		c.BOMRef = c.PURL
		comps = append(comps, c)
		refs[m.Path+"@"+m.Version] = c.BOMRef
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i].BOMRef < comps[j].BOMRef })

	edges, err := moduleGraph(root)
	if err != nil {
		return "", err
	}
	deps := map[string]map[string]bool{self.BOMRef: {stdlib.BOMRef: true}}
	for _, e := range edges {
		from, ok := refs[e[0]]
		if e[0] == info.Main.Path {
			from, ok = self.BOMRef, true
		}
		to, linked := refs[e[1]]
		if !ok || !linked {
			continue
		}
		if deps[from] == nil {
			deps[from] = map[string]bool{}
		}
		deps[from][to] = true
	}
	var dependencies []cdxDependency
	for _, c := range append([]cdxComponent{self}, comps...) {
		d := cdxDependency{Ref: c.BOMRef, DependsOn: []string{}}
		for to := range deps[c.BOMRef] {
			d.DependsOn = append(d.DependsOn, to)
		}
		sort.Strings(d.DependsOn)
		dependencies = append(dependencies, d)
	}
	sort.Slice(dependencies, func(i, j int) bool { return dependencies[i].Ref < dependencies[j].Ref })

	bom := cdxBOM{
		BOMFormat:   "CycloneDX",
		SpecVersion: "1.5",
		// The same release gets the same serial number, so that the file is reproducible.
		SerialNumber: "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte(self.PURL+"#"+s.Commit)).String(),
		Version:      1,
		Metadata:     cdxMetadata{Timestamp: s.Date.Format("2006-01-02T15:04:05Z"), Component: self},
		Components:   comps,
		Dependencies: dependencies,
	}
	b, err := json.MarshalIndent(bom, "", "  ")
	if err != nil {
		return "", err
	}
	name := sbomName(s)
	return name, os.WriteFile(filepath.Join(out, name), append(b, '\n'), 0o644)
}

// moduleGraph returns go mod graph's edges: from module (path, or path@version) to path@version.
func moduleGraph(root string) ([][2]string, error) {
	cmd := exec.Command("go", "mod", "graph")
	cmd.Dir = root
	cmd.Env = append(without(os.Environ(), []string{"GOFLAGS"}), "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("sbom: go mod graph: %w", err)
	}
	var edges [][2]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		from, to, ok := strings.Cut(line, " ")
		if ok {
			edges = append(edges, [2]string{from, to})
		}
	}
	return edges, nil
}
