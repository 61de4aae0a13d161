package admin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/eoskit/eoskit/admin"
)

const goodYAML = `# two topics
topics:
  - name: orders
    partitions: 6
    replicationFactor: 3
    minInsyncReplicas: 2
    configs:
      retention.ms: 604800000
      cleanup.policy: delete
  - name: audit
    partitions: 1
`

func TestParseGood(t *testing.T) {
	specs, err := admin.Parse("good.yaml", strings.NewReader(goodYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 {
		t.Fatalf("got %d specs, want 2", len(specs))
	}
	o := specs[0]
	if o.Name != "orders" || o.Partitions != 6 || o.ReplicationFactor != 3 || o.MinInsyncReplicas != 2 {
		t.Errorf("orders = %+v", o)
	}
	if o.Configs["retention.ms"] != "604800000" || o.Configs["cleanup.policy"] != "delete" {
		t.Errorf("orders configs = %v (an unquoted number must become its string)", o.Configs)
	}
	if o.Line() != 3 || specs[1].Line() != 10 {
		t.Errorf("lines = %d, %d; want 3, 10", o.Line(), specs[1].Line())
	}
	a := specs[1]
	if a.ReplicationFactor != 0 || a.MinInsyncReplicas != 0 {
		t.Errorf("Parse must not apply defaults: %+v", a)
	}
}

func TestParseMalformed(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown topic field", "topics:\n  - name: a\n    partitions: 1\n    replicas: 3\n", []string{"line 4", "replicas"}},
		{"unknown top-level field", "topics:\n  - name: a\n    partitions: 1\ntopcis: []\n", []string{"line 4", "topcis"}},
		{"misspelt camel case", "topics:\n  - name: a\n    partitions: 1\n    min_insync_replicas: 2\n", []string{"line 4", "min_insync_replicas"}},
		{"wrong type", "topics:\n  - name: a\n    partitions: six\n", []string{"line 3", "int32"}},
		{"syntax", "topics:\n  - name: a\n    partitions: 1\n    configs: {a: 1\n", []string{"line "}},
		{"configs not a map", "topics:\n  - name: a\n    partitions: 1\n    configs: [a, b]\n", []string{"line 4"}},
		{"empty", "", []string{"empty"}},
		{"no topics", "topics: []\n", []string{"no topics"}},
		{"not a mapping", "- name: a\n", []string{"line 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := admin.Parse("bad.yaml", strings.NewReader(c.yaml))
			if !errors.Is(err, admin.ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
			for _, w := range append(c.want, "bad.yaml") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	cases := []struct {
		in          admin.TopicSpec
		rf          int16
		minISR      int
		configsLeft int
	}{
		{admin.TopicSpec{Name: "a", Partitions: 1}, 3, 2, 0},
		{admin.TopicSpec{Name: "a", Partitions: 1, ReplicationFactor: 1}, 1, 1, 0},
		{admin.TopicSpec{Name: "a", Partitions: 1, ReplicationFactor: 5}, 5, 2, 0},
		{admin.TopicSpec{Name: "a", Partitions: 1, MinInsyncReplicas: 3}, 3, 3, 0},
		{admin.TopicSpec{Name: "a", Partitions: 1, Configs: map[string]string{"min.insync.replicas": "3", "x": "y"}}, 3, 3, 1},
	}
	for i, c := range cases {
		orig := len(c.in.Configs)
		s := c.in
		s.SetDefaults()
		if s.ReplicationFactor != c.rf || s.MinInsyncReplicas != c.minISR || len(s.Configs) != c.configsLeft {
			t.Errorf("case %d: got rf=%d minISR=%d configs=%v", i, s.ReplicationFactor, s.MinInsyncReplicas, s.Configs)
		}
		if len(c.in.Configs) != orig {
			t.Errorf("case %d: SetDefaults changed the caller's configs map", i)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := admin.TopicSpec{Name: "ok", Partitions: 3, ReplicationFactor: 3, MinInsyncReplicas: 2}
	mod := func(f func(*admin.TopicSpec)) admin.TopicSpec { s := ok; f(&s); return s }
	cases := []struct {
		name  string
		spec  admin.TopicSpec
		field string // "" means valid
		fix   string
	}{
		{"valid", ok, "", ""},
		{"no name", mod(func(s *admin.TopicSpec) { s.Name = "" }), "name", "give every topic a name"},
		{"bad name", mod(func(s *admin.TopicSpec) { s.Name = "a/b" }), "name", "a-z"},
		{"dot name", mod(func(s *admin.TopicSpec) { s.Name = ".." }), "name", "a-z"},
		{"long name", mod(func(s *admin.TopicSpec) { s.Name = strings.Repeat("x", 250) }), "name", "249"},
		{"internal name", mod(func(s *admin.TopicSpec) { s.Name = "__consumer_offsets" }), "name", "does not start with __"},
		{"zero partitions", mod(func(s *admin.TopicSpec) { s.Partitions = 0 }), "partitions", "1 or more"},
		{"negative partitions", mod(func(s *admin.TopicSpec) { s.Partitions = -2 }), "partitions", "1 or more"},
		{"zero rf", mod(func(s *admin.TopicSpec) { s.ReplicationFactor = 0 }), "replicationFactor", "1 or more"},
		{"zero min.insync", mod(func(s *admin.TopicSpec) { s.MinInsyncReplicas = 0 }), "minInsyncReplicas", "1 or more"},
		{"min.insync > rf", mod(func(s *admin.TopicSpec) { s.MinInsyncReplicas = 4 }), "minInsyncReplicas", "at most 3"},
		{"conflicting min.insync", mod(func(s *admin.TopicSpec) { s.Configs = map[string]string{"min.insync.replicas": "1"} }), "configs.min.insync.replicas", "only through minInsyncReplicas"},
		{"non-numeric min.insync", mod(func(s *admin.TopicSpec) {
			s.MinInsyncReplicas = 0
			s.Configs = map[string]string{"min.insync.replicas": "two"}
		}), "configs.min.insync.replicas", "minInsyncReplicas: 2"},
		{"empty config key", mod(func(s *admin.TopicSpec) { s.Configs = map[string]string{"": "1"} }), "configs", "remove"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.spec.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid spec: %v", err)
				}
				return
			}
			var ve *admin.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, admin.ErrInvalidSpec) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			var found bool
			for _, p := range ve.Problems {
				if p.Field == c.field && strings.Contains(p.Fix, c.fix) && p.Topic == c.spec.Name {
					found = true
				}
			}
			if !found {
				t.Errorf("no problem on %s with fix %q in %v", c.field, c.fix, ve.Problems)
			}
		})
	}
}

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	specs, err := admin.Parse("all.yaml", strings.NewReader(`topics:
  - name: a
    partitions: 0
    replicationFactor: 2
    minInsyncReplicas: 3
  - name: a
    partitions: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	err = admin.ValidateAll(specs)
	var ve *admin.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	// partitions and minInsyncReplicas of the first, rf/minISR zero and
	// duplicate name of the second.
	fields := map[string]int{}
	for _, p := range ve.Problems {
		fields[p.Field]++
	}
	if fields["partitions"] != 1 || fields["minInsyncReplicas"] != 2 || fields["name"] != 1 || fields["replicationFactor"] != 1 {
		t.Errorf("problems = %v", ve.Problems)
	}
	if ve.Problems[0].Line != 2 || !strings.Contains(err.Error(), "line 2: topic a: partitions") {
		t.Errorf("first problem should name line 2: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(goodYAML)
	f.Add("topics:\n  - name: a\n    partitions: 1\n    replicas: 3\n")
	f.Add("topics: [{name: x, partitions: -1, configs: {a: [1]}}]")
	f.Add("&a [*a]")
	f.Add("topics:\n  - !!binary abc\n")
	f.Fuzz(func(t *testing.T, in string) {
		specs, err := admin.Parse("fuzz.yaml", strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, admin.ErrInvalidSpec) {
				t.Fatalf("parse error does not match ErrInvalidSpec: %v", err)
			}
			return
		}
		for i := range specs {
			specs[i].SetDefaults()
		}
		_ = admin.ValidateAll(specs)
		_ = admin.LintSpecs(specs)
	})
}

func TestExampleFileIsValidAndSafe(t *testing.T) {
	specs, err := admin.LoadFile("../examples/topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := range specs {
		specs[i].SetDefaults()
	}
	if err := admin.ValidateAll(specs); err != nil {
		t.Fatal(err)
	}
	if fs := admin.LintSpecs(specs); len(fs) != 0 {
		t.Fatalf("the example must be exactly-once safe: %+v", fs)
	}
}
