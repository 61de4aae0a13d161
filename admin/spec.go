package admin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MinInsyncKey is the topic config that the MinInsyncReplicas field sets.
const MinInsyncKey = "min.insync.replicas"

// TopicSpec is the desired state of one topic. It is a plain value: build it
// in code or load it from YAML with Parse or LoadFile.
type TopicSpec struct {
	Name              string `yaml:"name" json:"name"`
	Partitions        int32  `yaml:"partitions" json:"partitions"`
	ReplicationFactor int16  `yaml:"replicationFactor" json:"replicationFactor"`
	// MinInsyncReplicas is the topic's min.insync.replicas: with acks=all
	// (which transactions require) a write succeeds only once this many
	// replicas have it. 0 means the default chosen by SetDefaults.
	MinInsyncReplicas int `yaml:"minInsyncReplicas" json:"minInsyncReplicas"`
	// Configs are other topic configs (retention.ms, cleanup.policy,
	// compression.type, ...). Keys the spec does not mention are left alone.
	Configs map[string]string `yaml:"configs,omitempty" json:"configs,omitempty"`

	line int // line of the spec in its YAML file, 0 if not loaded from YAML
}

// Line returns the line the spec starts on in the YAML it was loaded from,
// or 0.
func (s TopicSpec) Line() int { return s.line }

// File is the YAML document shape: a list of topics.
type File struct {
	Topics []TopicSpec `yaml:"topics" json:"topics"`
}

// DefaultReplicationFactor is what SetDefaults uses when a spec has none: the
// smallest factor that survives one broker failure with min.insync.replicas=2.
const DefaultReplicationFactor = 3

// SetDefaults fills unset fields: ReplicationFactor 3; MinInsyncReplicas 2
// (1 when ReplicationFactor is below 3), or the value of
// configs[min.insync.replicas] when only that is given. Partitions has no
// default: a spec must say how many it wants.
func (s *TopicSpec) SetDefaults() {
	if s.ReplicationFactor == 0 {
		s.ReplicationFactor = DefaultReplicationFactor
	}
	if s.MinInsyncReplicas == 0 {
		if v, ok := s.Configs[MinInsyncKey]; ok {
			if n, err := strconv.Atoi(v); err == nil {
				s.MinInsyncReplicas = n
				s.Configs = without(s.Configs, MinInsyncKey)
			}
			return // Validate reports a value that is not a number
		}
		s.MinInsyncReplicas = 2
		if s.ReplicationFactor < 3 {
			s.MinInsyncReplicas = 1
		}
	}
}

// topicName is what Kafka accepts as a topic name.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)

// Validate checks one spec without a cluster; see ValidateAll.
func (s TopicSpec) Validate() error { return ValidateAll([]TopicSpec{s}) }

// ValidateAll checks specs without a cluster and reports every problem at
// once as a *ValidationError (matching ErrInvalidSpec). Call SetDefaults
// first; what only the cluster knows (live brokers, current partitions,
// config keys) is checked by Plan.
func ValidateAll(specs []TopicSpec) error {
	var ps problems
	seen := map[string]int{}
	for _, s := range specs {
		validateOne(&ps, s)
		if s.Name != "" {
			if first, dup := seen[s.Name]; dup {
				ps.add(s, "name", "duplicate topic", fmt.Sprintf("it is also specified at position %d; keep one", first))
			} else {
				seen[s.Name] = len(seen) + 1
			}
		}
	}
	return ps.err()
}

func validateOne(ps *problems, s TopicSpec) {
	switch {
	case s.Name == "":
		ps.add(s, "name", "missing", "give every topic a name")
	case len(s.Name) > 249 || s.Name == "." || s.Name == ".." || !topicName.MatchString(s.Name):
		ps.add(s, "name", fmt.Sprintf("%q is not a legal Kafka topic name", s.Name),
			"use at most 249 characters from a-z A-Z 0-9 . _ -")
	case strings.HasPrefix(s.Name, "__"):
		ps.add(s, "name", fmt.Sprintf("%q is reserved for Kafka's internal topics", s.Name),
			"choose a name that does not start with __; internal topics are managed by the brokers")
	}
	if s.Partitions < 1 {
		ps.add(s, "partitions", fmt.Sprintf("is %d", s.Partitions), "set partitions to 1 or more")
	}
	if s.ReplicationFactor < 1 {
		ps.add(s, "replicationFactor", fmt.Sprintf("is %d", s.ReplicationFactor),
			"set replicationFactor to 1 or more (3 for exactly-once pipelines)")
	}
	if v, ok := s.Configs[MinInsyncKey]; ok {
		if s.MinInsyncReplicas != 0 && v != strconv.Itoa(s.MinInsyncReplicas) {
			ps.add(s, "configs."+MinInsyncKey, fmt.Sprintf("is %q but minInsyncReplicas is %d", v, s.MinInsyncReplicas),
				"set it only through minInsyncReplicas")
		} else if _, err := strconv.Atoi(v); err != nil {
			ps.add(s, "configs."+MinInsyncKey, fmt.Sprintf("%q is not a number", v), "use minInsyncReplicas: 2")
		}
	}
	switch {
	case s.MinInsyncReplicas < 1:
		ps.add(s, "minInsyncReplicas", fmt.Sprintf("is %d", s.MinInsyncReplicas), "set minInsyncReplicas to 1 or more (2 for exactly-once pipelines)")
	case s.ReplicationFactor >= 1 && s.MinInsyncReplicas > int(s.ReplicationFactor):
		ps.add(s, "minInsyncReplicas", fmt.Sprintf("is %d, greater than replicationFactor %d: no write with acks=all could ever succeed", s.MinInsyncReplicas, s.ReplicationFactor),
			fmt.Sprintf("set minInsyncReplicas to at most %d (replicationFactor-1 to tolerate a broker failure)", s.ReplicationFactor))
	}
	for _, k := range sortedKeys(s.Configs) {
		if k == "" {
			ps.add(s, "configs", "empty config key", "remove it")
		}
	}
}

// Parse reads a YAML topics file from r. name is used in error messages
// (a file name, or "-" for stdin). Unknown fields, wrong types and syntax
// errors are errors naming the line, matching ErrInvalidSpec. The specs are
// returned as written: call SetDefaults and ValidateAll (Plan does both).
func Parse(name string, r io.Reader) ([]TopicSpec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s is empty: write a document with a topics: list", ErrInvalidSpec, name)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidSpec, name, err)
	}
	if len(f.Topics) == 0 {
		return nil, fmt.Errorf("%w: %s has no topics: write a document with a topics: list", ErrInvalidSpec, name)
	}
	// Second pass for the line each topic starts on.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		lines := topicLines(&root)
		for i := range f.Topics {
			if i < len(lines) {
				f.Topics[i].line = lines[i]
			}
		}
	}
	return f.Topics, nil
}

func topicLines(root *yaml.Node) []int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "topics" && m.Content[i+1].Kind == yaml.SequenceNode {
			var lines []int
			for _, t := range m.Content[i+1].Content {
				lines = append(lines, t.Line)
			}
			return lines
		}
	}
	return nil
}

// LoadFile reads a YAML topics file; see Parse.
func LoadFile(path string) ([]TopicSpec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open topics file: %w", err)
	}
	defer f.Close()
	return Parse(path, f)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// without returns a copy of m without key, so SetDefaults never mutates a
// map the caller still holds.
func without(m map[string]string, key string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}
