package deploy

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/ics-chat/ics/internal/config"
	"github.com/ics-chat/ics/internal/servertest"
)

// manifests is every decoded object of deploy/k8s.
type manifests struct {
	sts      *appsv1.StatefulSet
	services map[string]*corev1.Service
	pdbs     []*policyv1.PodDisruptionBudget
	kust     kustomization
}

// kustomization is the part of kustomize's Kustomization we use; decoding
// is strict, so a field we do not know about fails the test.
type kustomization struct {
	APIVersion      string   `json:"apiVersion"`
	Kind            string   `json:"kind"`
	Resources       []string `json:"resources"`
	SecretGenerator []struct {
		Name  string   `json:"name"`
		Files []string `json:"files"`
	} `json:"secretGenerator"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
	} `json:"images"`
}

// splitDocs splits a multi-document YAML stream.
func splitDocs(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// decodeStrict decodes YAML into v and fails on any unknown, duplicate or
// wrongly cased field, the way the API server's strict field validation
// does (encoding/json alone matches field names case-insensitively).
func decodeStrict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// decodeObject decodes one Kubernetes object strictly (unknown or
// duplicate fields fail) into the k8s.io/api type its kind names.
func decodeObject(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	var obj any
	switch tm.APIVersion + "/" + tm.Kind {
	case "apps/v1/StatefulSet":
		obj = &appsv1.StatefulSet{}
	case "v1/Service":
		obj = &corev1.Service{}
	case "policy/v1/PodDisruptionBudget":
		obj = &policyv1.PodDisruptionBudget{}
	case "v1/Secret":
		obj = &corev1.Secret{}
	default:
		return nil, fmt.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
	}
	if err := decodeStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{services: map[string]*corev1.Service{}}
	kb, err := os.ReadFile("k8s/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(kb, &m.kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	files, _ := filepath.Glob("k8s/*.yaml")
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(m.kust.Resources, filepath.Base(f)) {
			t.Errorf("%s is not listed in kustomization.yaml resources", f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocs(b) {
			obj, err := decodeObject(doc)
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			switch o := obj.(type) {
			case *appsv1.StatefulSet:
				if m.sts != nil {
					t.Fatalf("two StatefulSets")
				}
				m.sts = o
			case *corev1.Service:
				m.services[o.Name] = o
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			}
		}
	}
	for _, r := range m.kust.Resources {
		if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", r, err)
		}
	}
	if m.sts == nil || len(m.pdbs) != 1 || len(m.services) != 2 {
		t.Fatalf("want one StatefulSet, two Services, one PodDisruptionBudget; got sts=%v services=%d pdbs=%d", m.sts != nil, len(m.services), len(m.pdbs))
	}
	return m
}

// The decoder must really be strict, or the tests below prove nothing.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n", "clusterIp"},
		{"misplaced field", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: 1, replicas: 3}\n", "replicas"},
		{"duplicate field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n", "metadata"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "Pod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeObject([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// serverFlags parses args and env the way cmd/server does (its flag set,
// then ICS_* variables) and returns the configuration and which flags were
// given on the command line.
func serverFlags(t *testing.T, args []string, env map[string]string) config.Config {
	t.Helper()
	c := config.Default()
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("server flags %q: %v", args, err)
	}
	if fs.NArg() > 0 {
		t.Fatalf("server flags %q: stray arguments %q", args, fs.Args())
	}
	if err := config.ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("environment %v: %v", env, err)
	}
	return c
}

// validateWithSecrets checks c as the server would once its secret files
// are read: the files exist only in the deployment, so stand-ins of valid
// length take their place.
func validateWithSecrets(t *testing.T, c config.Config) {
	t.Helper()
	if c.JWTKeyFile != "" {
		c.JWTKey, c.JWTKeyFile = strings.Repeat("k", config.MinJWTKeyBytes), ""
	}
	if c.AdminTokenFile != "" {
		c.AdminToken, c.AdminTokenFile = "token", ""
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the server would refuse this configuration: %v", err)
	}
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}

// imageEnv is the ENV of the Dockerfile's final stage: the defaults every
// container of the image starts with.
func imageEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	stages := regexp.MustCompile(`(?m)^FROM `).Split(text, -1)
	env := map[string]string{}
	for _, line := range strings.Split(stages[len(stages)-1], "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "ENV ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Dockerfile: ENV %q: use KEY=VALUE", rest)
			}
			env[k] = v
		}
	}
	return env
}

// podEnv is the container's literal environment over the image's.
func podEnv(t *testing.T, base map[string]string, c corev1.Container) map[string]string {
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	return env
}

func containerPort(t *testing.T, c corev1.Container, name string) int {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort)
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, name)
	return 0
}

// probePort resolves a probe's port (a number or a port name).
func probePort(t *testing.T, c corev1.Container, p *corev1.Probe) int {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Fatalf("container %s: probe %+v is not an HTTP GET", c.Name, p)
	}
	if p.HTTPGet.Port.Type == intstr.String {
		return containerPort(t, c, p.HTTPGet.Port.StrVal)
	}
	return p.HTTPGet.Port.IntValue()
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	sts := m.sts
	pod := sts.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	cfg := serverFlags(t, ctr.Args, podEnv(t, imageEnv(t), ctr))
	validateWithSecrets(t, cfg)
	httpPort := port(t, cfg.HTTPAddr)

	t.Run("ports match the flags", func(t *testing.T) {
		if got := containerPort(t, ctr, "http"); got != httpPort {
			t.Errorf("containerPort http %d, -http %s", got, cfg.HTTPAddr)
		}
		if got := containerPort(t, ctr, "admin"); got != port(t, cfg.AdminAddr) {
			t.Errorf("containerPort admin %d, -admin %s", got, cfg.AdminAddr)
		}
		if got := containerPort(t, ctr, "cluster"); got != port(t, cfg.ClusterListen) {
			t.Errorf("containerPort cluster %d, -cluster-listen %s", got, cfg.ClusterListen)
		}
		if host, _, _ := net.SplitHostPort(cfg.HTTPAddr); host != "0.0.0.0" && host != "" {
			t.Errorf("-http %s: a pod must listen on every interface", cfg.HTTPAddr)
		}
	})

	t.Run("probes", func(t *testing.T) {
		addr := servertest.Start(t, nil).Addr().String()
		tests := []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{
			{"readiness", ctr.ReadinessProbe, "/readyz"},
			{"liveness", ctr.LivenessProbe, "/healthz"},
		}
		for _, tt := range tests {
			if got := probePort(t, ctr, tt.probe); got != httpPort {
				t.Errorf("%s probe on port %d, server serves HTTP on %d", tt.name, got, httpPort)
			}
			if tt.probe.HTTPGet.Path != tt.path {
				t.Errorf("%s probe path %s, want %s", tt.name, tt.probe.HTTPGet.Path, tt.path)
			}
			served(t, addr, tt.probe.HTTPGet.Path)
		}
	})

	t.Run("drain fits in the grace period", func(t *testing.T) {
		if sts.Spec.Template.Spec.TerminationGracePeriodSeconds == nil {
			t.Fatal("no terminationGracePeriodSeconds: the default 30s is not tied to -drain-timeout")
		}
		grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		var preStop time.Duration
		if ctr.Lifecycle == nil || ctr.Lifecycle.PreStop == nil || ctr.Lifecycle.PreStop.Sleep == nil {
			t.Fatal("no preStop sleep: the drain would start before the Services stop routing to the pod")
		}
		preStop = time.Duration(ctr.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		// The grace period runs from the start of preStop; the process
		// needs a moment after the drain to stop the admin API and exit.
		const exitMargin = 2 * time.Second
		if preStop+cfg.DrainTimeout+exitMargin > grace {
			t.Errorf("preStop %s + -drain-timeout %s + %s > terminationGracePeriodSeconds %s: the kubelet would SIGKILL mid-drain",
				preStop, cfg.DrainTimeout, exitMargin, grace)
		}
	})

	t.Run("cluster peers are the StatefulSet's stable names", func(t *testing.T) {
		if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 {
			t.Fatalf("replicas %v, want 3", sts.Spec.Replicas)
		}
		headless := m.services[sts.Spec.ServiceName]
		if headless == nil || headless.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Fatalf("serviceName %q is not a headless Service in the manifests", sts.Spec.ServiceName)
		}
		if !headless.Spec.PublishNotReadyAddresses {
			t.Error("headless Service must publish not-ready pods: peers dial each other before they are ready")
		}
		clusterPort := port(t, cfg.ClusterListen)
		var want []string
		for i := range int(*sts.Spec.Replicas) {
			want = append(want, fmt.Sprintf("nats://%s-%d.%s:%d", sts.Name, i, headless.Name, clusterPort))
		}
		if !slices.Equal(cfg.ClusterPeers, want) {
			t.Errorf("-cluster-peers %v, want %v", cfg.ClusterPeers, want)
		}
		servicePort(t, headless, "cluster", clusterPort, ctr)
		if env := envVar(ctr, "ICS_NODE_ID"); env == nil || env.ValueFrom == nil || env.ValueFrom.FieldRef == nil || env.ValueFrom.FieldRef.FieldPath != "metadata.name" {
			t.Error("ICS_NODE_ID must come from the pod name (unique, stable)")
		}
	})

	t.Run("services and budget select the pods", func(t *testing.T) {
		labels := sts.Spec.Template.Labels
		sel, err := metav1.LabelSelectorAsMap(sts.Spec.Selector)
		if err != nil || !subset(sel, labels) {
			t.Fatalf("StatefulSet selector %v does not match its pods %v", sel, labels)
		}
		for name, svc := range m.services {
			if len(svc.Spec.Selector) == 0 || !subset(svc.Spec.Selector, labels) {
				t.Errorf("Service %s selects %v, pods are %v", name, svc.Spec.Selector, labels)
			}
		}
		client := m.services["ics"]
		if client == nil || client.Spec.ClusterIP == corev1.ClusterIPNone {
			t.Fatal("no client Service named ics")
		}
		if client.Spec.SessionAffinity != "" && client.Spec.SessionAffinity != corev1.ServiceAffinityNone {
			t.Errorf("client Service has session affinity %s: none is needed", client.Spec.SessionAffinity)
		}
		servicePort(t, client, "http", httpPort, ctr)
		pdb := m.pdbs[0]
		psel, err := metav1.LabelSelectorAsMap(pdb.Spec.Selector)
		if err != nil || !subset(psel, labels) {
			t.Errorf("PodDisruptionBudget selects %v, pods are %v", psel, labels)
		}
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", pdb.Spec.MaxUnavailable)
		}
	})

	t.Run("secrets come from mounted files", func(t *testing.T) {
		if len(m.kust.SecretGenerator) != 1 {
			t.Fatalf("want one secretGenerator, got %d", len(m.kust.SecretGenerator))
		}
		gen := m.kust.SecretGenerator[0]
		keys := map[string]bool{}
		for _, f := range gen.Files {
			k, _, _ := strings.Cut(f, "=")
			keys[k] = true
		}
		for _, tt := range []struct{ flagName, path string }{
			{"-jwt-key-file", cfg.JWTKeyFile},
			{"-admin-token-file", cfg.AdminTokenFile},
		} {
			if tt.path == "" {
				t.Errorf("%s not set", tt.flagName)
				continue
			}
			vol, key := mountedSecret(t, pod, ctr, tt.path)
			if vol.Secret.SecretName != gen.Name || !keys[key] {
				t.Errorf("%s %s is key %q of Secret %q; the generator makes %q with %v", tt.flagName, tt.path, key, vol.Secret.SecretName, gen.Name, gen.Files)
			}
		}
		for _, a := range ctr.Args {
			if strings.HasPrefix(a, "-jwt-key=") || strings.HasPrefix(a, "-admin-token=") {
				t.Errorf("secret on the command line: %s", a)
			}
		}
	})

	t.Run("GOMEMLIMIT follows the memory limit", func(t *testing.T) {
		e := envVar(ctr, "GOMEMLIMIT")
		if e == nil || e.ValueFrom == nil || e.ValueFrom.ResourceFieldRef == nil || e.ValueFrom.ResourceFieldRef.Resource != "limits.memory" {
			t.Fatalf("GOMEMLIMIT %+v: want resourceFieldRef limits.memory", e)
		}
		ref := e.ValueFrom.ResourceFieldRef
		if ref.ContainerName != "" && ref.ContainerName != ctr.Name {
			t.Errorf("GOMEMLIMIT reads container %q's limit", ref.ContainerName)
		}
		// Divisor 1 (the default) yields bytes, the unit GOMEMLIMIT reads
		// without a suffix.
		if !ref.Divisor.IsZero() && ref.Divisor.Value() != 1 {
			t.Errorf("GOMEMLIMIT divisor %s: the value would not be bytes", ref.Divisor.String())
		}
		if _, ok := ctr.Resources.Limits[corev1.ResourceMemory]; !ok {
			t.Error("no memory limit: GOMEMLIMIT would be the node's memory")
		}
		if _, ok := ctr.Resources.Requests[corev1.ResourceMemory]; !ok {
			t.Error("no memory request")
		}
	})

	t.Run("locked down", func(t *testing.T) {
		psc, sc := pod.SecurityContext, ctr.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("pod securityContext %+v: must run as a non-root uid", psc)
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Error("root filesystem is writable")
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Error("privilege escalation allowed")
		}
		if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities %+v: want drop ALL, add none", sc.Capabilities)
		}
	})
}

func envVar(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// servicePort checks svc has a port called name that reaches containerPort.
func servicePort(t *testing.T, svc *corev1.Service, name string, want int, ctr corev1.Container) {
	t.Helper()
	for _, p := range svc.Spec.Ports {
		if p.Name != name {
			continue
		}
		target := p.TargetPort.IntValue()
		if p.TargetPort.Type == intstr.String {
			target = containerPort(t, ctr, p.TargetPort.StrVal)
		} else if target == 0 {
			target = int(p.Port)
		}
		if target != want {
			t.Errorf("Service %s port %s reaches %d, the server listens on %d", svc.Name, name, target, want)
		}
		return
	}
	t.Errorf("Service %s has no port %q", svc.Name, name)
}

// mountedSecret finds the secret volume and key that file path is in.
func mountedSecret(t *testing.T, pod corev1.PodSpec, ctr corev1.Container, path string) (corev1.Volume, string) {
	t.Helper()
	for _, vm := range ctr.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.Secret != nil {
				return v, rel
			}
		}
	}
	t.Fatalf("%s is not in a mounted secret volume", path)
	return corev1.Volume{}, ""
}

// compose is the part of the Compose specification deploy/compose.yaml
// uses. Decoding is strict: a key outside this subset fails the test, so a
// new key means extending this type knowingly.
type compose struct {
	Name     string                    `json:"name"`
	XNode    map[string]any            `json:"x-node"`
	Services map[string]composeService `json:"services"`
	Secrets  map[string]struct {
		File string `json:"file"`
	} `json:"secrets"`
}

type composeService struct {
	Image           string            `json:"image"`
	PullPolicy      string            `json:"pull_policy"`
	Restart         string            `json:"restart"`
	ReadOnly        bool              `json:"read_only"`
	User            string            `json:"user"`
	CapDrop         []string          `json:"cap_drop"`
	SecurityOpt     []string          `json:"security_opt"`
	Tmpfs           []string          `json:"tmpfs"`
	StopSignal      string            `json:"stop_signal"`
	StopGracePeriod string            `json:"stop_grace_period"`
	Secrets         []string          `json:"secrets"`
	Environment     map[string]string `json:"environment"`
	Hostname        string            `json:"hostname"`
	Command         []string          `json:"command"`
	Ports           []string          `json:"ports"`
}

func TestComposeCluster(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := decodeStrict(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(c.Services) != 3 {
		t.Fatalf("%d services, want a three-node cluster", len(c.Services))
	}
	base := imageEnv(t)
	nodeIDs := map[string]string{}
	published := map[string]string{}
	for name, svc := range c.Services {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range svc.Environment {
				env[k] = v
			}
			cfg := serverFlags(t, svc.Command, env)
			validateWithSecrets(t, cfg)
			if prev, dup := nodeIDs[cfg.NodeID]; dup {
				t.Errorf("-node-id %s used by %s and %s", cfg.NodeID, prev, name)
			}
			nodeIDs[cfg.NodeID] = name
			// Every service is a peer, by its service name, on the
			// cluster port.
			clusterPort := port(t, cfg.ClusterListen)
			var want []string
			for _, n := range sortedKeys(c.Services) {
				want = append(want, fmt.Sprintf("nats://%s:%d", n, clusterPort))
			}
			if !slices.Equal(cfg.ClusterPeers, want) {
				t.Errorf("-cluster-peers %v, want %v", cfg.ClusterPeers, want)
			}
			for _, p := range cfg.ClusterPeers {
				if u, err := url.Parse(p); err != nil || u.Scheme != "nats" {
					t.Errorf("peer %q is not a nats:// URL", p)
				}
			}
			// The key: one shared secret file, mounted where the flag looks.
			if len(svc.Secrets) != 1 || cfg.JWTKeyFile != "/run/secrets/"+svc.Secrets[0] {
				t.Errorf("-jwt-key-file %q, secrets %v: want the key from /run/secrets/<the shared secret>", cfg.JWTKeyFile, svc.Secrets)
			} else if c.Secrets[svc.Secrets[0]].File == "" {
				t.Errorf("secret %s has no file", svc.Secrets[0])
			}
			for _, a := range svc.Command {
				if strings.HasPrefix(a, "-jwt-key=") || strings.HasPrefix(a, "-admin-token=") {
					t.Errorf("secret on the command line: %s", a)
				}
			}
			// Published ports reach the chat port.
			httpPort := strconv.Itoa(port(t, cfg.HTTPAddr))
			if len(svc.Ports) != 1 {
				t.Fatalf("ports %v, want the chat port published once", svc.Ports)
			}
			parts := strings.Split(svc.Ports[0], ":")
			if parts[len(parts)-1] != httpPort {
				t.Errorf("port %s does not publish the chat port %s", svc.Ports[0], httpPort)
			}
			if prev, dup := published[parts[len(parts)-2]]; dup {
				t.Errorf("host port %s published by %s and %s", parts[len(parts)-2], prev, name)
			}
			published[parts[len(parts)-2]] = name
			// docker stop waits stop_grace_period before SIGKILL.
			grace, err := time.ParseDuration(svc.StopGracePeriod)
			if err != nil || grace <= cfg.DrainTimeout {
				t.Errorf("stop_grace_period %q must exceed -drain-timeout %s", svc.StopGracePeriod, cfg.DrainTimeout)
			}
			if svc.StopSignal != "SIGTERM" || !svc.ReadOnly || !slices.Contains(svc.CapDrop, "ALL") || svc.User == "" || strings.HasPrefix(svc.User, "0") {
				t.Errorf("service %s is not locked down: %+v", name, svc)
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestDockerfile checks what the image promises against the server.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	stages := regexp.MustCompile(`(?m)^FROM `).Split(text, -1)
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final, "scratch") {
		t.Errorf("final stage is FROM %s, want scratch", strings.SplitN(final, "\n", 2)[0])
	}
	env := imageEnv(t)
	cfg := serverFlags(t, nil, env)
	validateWithSecrets(t, cfg)
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	expose := regexp.MustCompile(`(?m)^EXPOSE (.*)$`).FindStringSubmatch(final)
	if expose == nil {
		t.Fatal("no EXPOSE")
	}
	exposed := strings.Fields(expose[1])
	for _, want := range []struct{ what, addr string }{
		{"-http", cfg.HTTPAddr}, {"-admin", cfg.AdminAddr}, {"cluster routes", "0.0.0.0:6222"},
	} {
		if !slices.Contains(exposed, strconv.Itoa(port(t, want.addr))) {
			t.Errorf("EXPOSE %v lacks %s port %s", exposed, want.what, want.addr)
		}
	}
	if host, _, _ := net.SplitHostPort(cfg.HTTPAddr); host != "0.0.0.0" {
		t.Errorf("ICS_HTTP %s: chat must listen on every interface in a container", cfg.HTTPAddr)
	}
	// The admin address has no host: loopback until a token is set.
	if host, _, _ := net.SplitHostPort(cfg.AdminAddr); host != "127.0.0.1" {
		t.Errorf("image admin address resolves to %s without a token, want loopback", cfg.AdminAddr)
	}
	withToken := serverFlags(t, []string{"-admin-token", "t"}, env)
	if err := withToken.Resolve(); err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(withToken.AdminAddr); host != "" {
		t.Errorf("image admin address with a token is %s, want every interface", withToken.AdminAddr)
	}
	for _, want := range []string{
		"STOPSIGNAL SIGTERM", `CMD ["/usr/local/bin/server", "healthcheck"]`, "USER 65532:65532",
		"CGO_ENABLED=0", "-trimpath", "internal/server.Version=${VERSION}",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK `).MatchString(final) {
		t.Error("no HEALTHCHECK in the final stage")
	}
}

// served checks a real server answers path with 200, as the kubelet would
// see it.
func served(t *testing.T, addr, path string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s, want 200 (a probe on it would fail)", path, resp.Status)
	}
}
