package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// k8sDoc is the part of a Kubernetes manifest the cluster checks read.
type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Resources []string `yaml:"resources"`
	Spec      struct {
		// StatefulSet
		ServiceName         string `yaml:"serviceName"`
		Replicas            int    `yaml:"replicas"`
		PodManagementPolicy string `yaml:"podManagementPolicy"`
		Selector            struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name      string `yaml:"name"`
						Value     string `yaml:"value"`
						ValueFrom struct {
							FieldRef *struct {
								FieldPath string `yaml:"fieldPath"`
							} `yaml:"fieldRef"`
							SecretKeyRef *struct {
								Name string `yaml:"name"`
								Key  string `yaml:"key"`
							} `yaml:"secretKeyRef"`
						} `yaml:"valueFrom"`
					} `yaml:"env"`
					ReadinessProbe *struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
					LivenessProbe *struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"livenessProbe"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		// Service
		ClusterIP                string `yaml:"clusterIP"`
		PublishNotReadyAddresses bool   `yaml:"publishNotReadyAddresses"`
		// PodDisruptionBudget
		MinAvailable int `yaml:"minAvailable"`
	} `yaml:"spec"`
	Raw map[string]any `yaml:"-"`
}

func readManifests(t *testing.T, dir string) []k8sDoc {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var docs []k8sDoc
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var d k8sDoc
			if err := node.Decode(&d); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var generic map[string]any
			node.Decode(&generic)
			d.Raw = generic
			if d.Kind == "" {
				t.Fatalf("%s: a document without kind", path)
			}
			for _, r := range d.Resources {
				if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
					t.Fatalf("%s lists a missing %s", path, r)
				}
			}
			docs = append(docs, d)
		}
	}
	return docs
}

func selectorOf(d k8sDoc) map[string]string {
	spec, _ := d.Raw["spec"].(map[string]any)
	sel, _ := spec["selector"].(map[string]any)
	if ml, ok := sel["matchLabels"].(map[string]any); ok {
		sel = ml
	}
	out := map[string]string{}
	for k, v := range sel {
		out[k] = fmt.Sprint(v)
	}
	return out
}

func matches(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesCluster checks the 3-replica cluster manifests against what cluster mode needs:
// stable names in the routes, a headless service that publishes pods before they are ready, a
// budget that keeps a majority, probes that follow cluster health, the secret from a Secret.
func TestKubernetesCluster(t *testing.T) {
	docs := readManifests(t, "kubernetes/cluster")
	byKind := map[string][]k8sDoc{}
	for _, d := range docs {
		byKind[d.Kind] = append(byKind[d.Kind], d)
	}
	for _, k := range []string{"Kustomization", "StatefulSet", "Service", "PodDisruptionBudget", "Secret"} {
		if len(byKind[k]) == 0 {
			t.Fatalf("no %s in kubernetes/cluster", k)
		}
	}
	sts := byKind["StatefulSet"][0]
	pods := sts.Spec.Template.Metadata.Labels
	if sts.Spec.Replicas != 3 || sts.Spec.PodManagementPolicy != "Parallel" {
		t.Errorf("StatefulSet: replicas %d, podManagementPolicy %q; want 3 and Parallel (no pod is ready before a majority runs)", sts.Spec.Replicas, sts.Spec.PodManagementPolicy)
	}
	var headless *k8sDoc
	for i, s := range byKind["Service"] {
		if s.Metadata.Name == sts.Spec.ServiceName {
			headless = &byKind["Service"][i]
		}
		if !matches(selectorOf(s), pods) {
			t.Errorf("Service %s does not select the pods", s.Metadata.Name)
		}
	}
	if headless == nil || headless.Spec.ClusterIP != "None" || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("serviceName %q must be a headless Service with publishNotReadyAddresses", sts.Spec.ServiceName)
	}
	pdb := byKind["PodDisruptionBudget"][0]
	if pdb.Spec.MinAvailable != sts.Spec.Replicas/2+1 || !matches(selectorOf(pdb), pods) {
		t.Errorf("PodDisruptionBudget: minAvailable %d over %v; want a majority (%d) of the pods", pdb.Spec.MinAvailable, selectorOf(pdb), sts.Spec.Replicas/2+1)
	}

	c := sts.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		switch {
		case e.ValueFrom.FieldRef != nil:
			env[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name
		}
	}
	if env["MESH_NODE_NAME"] != "field:metadata.name" {
		t.Errorf("MESH_NODE_NAME = %q, want the pod's name", env["MESH_NODE_NAME"])
	}
	if !strings.HasPrefix(env["MESH_CLUSTER_SECRET"], "secret:") {
		t.Errorf("MESH_CLUSTER_SECRET = %q, want it from a Secret", env["MESH_CLUSTER_SECRET"])
	}
	routePort := 0
	for _, p := range c.Ports {
		if p.Name == "routes" {
			routePort = p.ContainerPort
		}
	}
	if !strings.HasSuffix(env["MESH_CLUSTER_LISTEN"], fmt.Sprintf(":%d", routePort)) || routePort == 0 {
		t.Errorf("MESH_CLUSTER_LISTEN %q is not the routes port %d", env["MESH_CLUSTER_LISTEN"], routePort)
	}
	var want []string
	for i := range sts.Spec.Replicas {
		want = append(want, fmt.Sprintf("nats://%s-%d.%s:%d", sts.Metadata.Name, i, sts.Spec.ServiceName, routePort))
	}
	if got := env["MESH_CLUSTER_ROUTES"]; got != strings.Join(want, ",") {
		t.Errorf("MESH_CLUSTER_ROUTES = %q, want every pod's stable name: %q", got, strings.Join(want, ","))
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("probes: readiness must be /readyz (cluster health), liveness /healthz")
	}
}

// TestSystemdCluster checks the three machines' settings: one name each, the same cluster, routes
// and secret everywhere, routes that reach every machine's route port.
func TestSystemdCluster(t *testing.T) {
	paths, _ := filepath.Glob("systemd/cluster/*.env")
	if len(paths) != 3 {
		t.Fatalf("%d machines' settings, want 3", len(paths))
	}
	names := map[string]bool{}
	shared := map[string]string{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not KEY=value: %q", path, line)
			}
			env[k] = v
		}
		f.Close()
		name := env["MESH_NODE_NAME"]
		if name == "" || names[name] {
			t.Errorf("%s: node name %q empty or taken", path, name)
		}
		names[name] = true
		for _, k := range []string{"MESH_CLUSTER_NAME", "MESH_CLUSTER_ROUTES", "MESH_CLUSTER_SECRET", "MESH_CLUSTER_LISTEN"} {
			if env[k] == "" {
				t.Errorf("%s: %s is not set", path, k)
			}
			if prev, ok := shared[k]; ok && prev != env[k] {
				t.Errorf("%s: %s differs between machines", path, k)
			}
			shared[k] = env[k]
		}
	}
	_, port, _ := strings.Cut(shared["MESH_CLUSTER_LISTEN"], ":")
	routes := strings.Split(shared["MESH_CLUSTER_ROUTES"], ",")
	if len(routes) != 3 {
		t.Fatalf("routes %q: want the 3 machines", shared["MESH_CLUSTER_ROUTES"])
	}
	for name := range names {
		found := false
		for _, r := range routes {
			found = found || strings.HasPrefix(r, "nats://"+name+".") && strings.HasSuffix(r, ":"+port)
		}
		if !found {
			t.Errorf("no route reaches machine %s on port %s: %v", name, port, routes)
		}
	}
}
