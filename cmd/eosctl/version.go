package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eoskit/eoskit/integration"
)

// modulePath is eoskit's module, named when the binary carries no build info.
const modulePath = "github.com/eoskit/eoskit"

// versionInfo is what `eosctl version` and `eosctl --version` print. It comes
// from the build info the Go toolchain embeds (runtime/debug.ReadBuildInfo),
// so no linker flag is needed: `go install github.com/eoskit/eoskit/cmd/eosctl@v1.2.3`
// reports v1.2.3, a build from a checkout reports Go's pseudo-version or
// "(devel)" (when VCS stamping is off, e.g. -buildvcs=false).
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"` // vcs.revision, when the build stamped it
	Modified bool   `json:"modified,omitempty"` // vcs.modified: built from uncommitted changes
	Kafka    string `json:"kafkaTestedWith"`    // the Apache Kafka release eoskit is tested against
	Go       string `json:"go"`                 // the Go toolchain that built the binary
	Platform string `json:"platform"`
}

// readVersion builds a versionInfo from read (debug.ReadBuildInfo in eosctl).
func readVersion(read func() (*debug.BuildInfo, bool)) versionInfo {
	v := versionInfo{
		Module:   modulePath,
		Version:  "(unknown)",
		Kafka:    integration.DefaultKafkaVersion,
		Go:       runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := read()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// text is the human form: three lines, the first like `go version -m`'s
// module line.
func (v versionInfo) text() string {
	first := []string{v.Module + " " + v.Version}
	if v.Revision != "" {
		first = append(first, "revision "+v.Revision)
	}
	if v.Modified {
		first = append(first, "modified")
	}
	return fmt.Sprintf("%s\ntested with Apache Kafka %s\nbuilt with %s %s\n",
		strings.Join(first, ", "), v.Kafka, v.Go, v.Platform)
}

// addVersion gives root a --version flag and a version command that print
// the same text (the command also as JSON).
func addVersion(root *cobra.Command, e *env) {
	v := readVersion(debug.ReadBuildInfo)
	root.Version = v.text()
	root.SetVersionTemplate("{{.Version}}")
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print eosctl's version, the Kafka release it is tested with, and its Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			if out.format == "json" {
				return writeJSON(e.stdout, v)
			}
			_, err := fmt.Fprint(e.stdout, v.text())
			return err
		},
	}
	out.register(cmd)
	root.AddCommand(cmd)
}
