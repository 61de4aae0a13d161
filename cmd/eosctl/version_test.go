package main

import (
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/eoskit/eoskit/integration"
)

func TestReadVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.1",
		Main:      debug.Module{Path: "github.com/eoskit/eoskit", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	v := readVersion(func() (*debug.BuildInfo, bool) { return bi, true })
	want := "github.com/eoskit/eoskit v1.2.3, revision 0123456789abcdef, modified\n" +
		"tested with Apache Kafka " + integration.DefaultKafkaVersion + "\n" +
		"built with go1.26.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if got := v.text(); got != want {
		t.Fatalf("text:\n got %q\nwant %q", got, want)
	}
}

func TestReadVersionWithoutBuildInfo(t *testing.T) {
	v := readVersion(func() (*debug.BuildInfo, bool) { return nil, false })
	if v.Version != "(unknown)" || v.Module != modulePath || v.Go != runtime.Version() || v.Kafka != integration.DefaultKafkaVersion {
		t.Fatalf("without build info: %+v", v)
	}
	if strings.Contains(v.text(), "revision") {
		t.Fatalf("text names a revision it does not have: %q", v.text())
	}
}

// TestVersionCommandAndFlag: `eosctl version` and `eosctl --version` print the
// same three lines, from this test binary's own build info.
func TestVersionCommandAndFlag(t *testing.T) {
	want := readVersion(debug.ReadBuildInfo).text()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := run(t, "", args...)
		if r.code != exitOK || r.stdout != want || r.stderr != "" {
			t.Errorf("eosctl %s: exit %d, stdout %q, stderr %q; want 0 and %q", args[0], r.code, r.stdout, r.stderr, want)
		}
	}
	for _, line := range []string{"tested with Apache Kafka " + integration.DefaultKafkaVersion, "built with go1."} {
		if !strings.Contains(want, line) {
			t.Errorf("version text %q lacks %q", want, line)
		}
	}
	r := run(t, "", "version", "--output", "json")
	var got versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != exitOK {
		t.Fatalf("version --output json: exit %d, %q: %v", r.code, r.stdout, err)
	}
	if got.Kafka != integration.DefaultKafkaVersion || !strings.HasPrefix(got.Go, "go1.") || got.Module != modulePath || got.Version == "" {
		t.Fatalf("version JSON: %+v", got)
	}
	if r := run(t, "", "version", "--output", "xml"); r.code != exitUsage {
		t.Fatalf("version --output xml: exit %d, want %d", r.code, exitUsage)
	}
	if r := run(t, "", "version", "extra"); r.code != exitUsage {
		t.Fatalf("version extra: exit %d, want %d", r.code, exitUsage)
	}
}
