package main

import (
	"strings"
	"testing"
)

func TestDevClusterNetworkFaultFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dev", "cluster", "--control-addr", "127.0.0.1:7777"}, "--control-addr needs --network-faults"},
		{[]string{"dev", "cluster", "--network-faults", "--control-addr", "0.0.0.0:7777"}, "want a loopback IP"},
		{[]string{"dev", "cluster", "--network-faults", "--control-addr", "localhost"}, "want a loopback IP"},
	} {
		r := run(t, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d stderr %q, want exit %d saying %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}
