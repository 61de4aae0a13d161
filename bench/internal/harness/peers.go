package harness

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/eoskit/eoskit/bench/internal/client"
)

// Peer is a peer client program (see bench/peers): its binary, or why it
// is not there.
type Peer struct {
	Path string
	Err  error
}

// peerPackages maps each peer implementation to its main package in the
// bench/peers module.
var peerPackages = map[string]string{
	client.ImplSarama:    "./sarama",
	client.ImplConfluent: "./confluent",
}

// BuildPeers builds the peer clients of the module in dir into out with the
// go command. A peer that does not build (confluent-kafka-go needs a C
// compiler) comes back with its error; the cases then run without it and
// say so.
func BuildPeers(ctx context.Context, dir, out string) map[string]Peer {
	peers := map[string]Peer{}
	for impl, pkg := range peerPackages {
		bin := filepath.Join(out, "eospeer-"+impl)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			peers[impl] = Peer{Err: fmt.Errorf("go build %s in %s: %w: %s", pkg, dir, err, strings.ReplaceAll(lastLines(string(b), 3), "\n", " / "))}
			continue
		}
		peers[impl] = Peer{Path: bin}
	}
	return peers
}

// withPeers drops the sides of peers that are not built, and says so in the
// case's settings.
func withPeers(c Case, peers map[string]Peer) Case {
	var sides []Side
	for _, s := range c.Sides {
		g, ok := s.(goSide)
		if !ok || g.peer == "" {
			sides = append(sides, s)
			continue
		}
		switch p, found := peers[g.peer]; {
		case found && p.Err == nil:
			sides = append(sides, s)
		case found:
			c.Settings += fmt.Sprintf(" %s left out: %v.", g.label, p.Err)
		default:
			c.Settings += fmt.Sprintf(" %s left out: not built (eosbench --peers).", g.label)
		}
	}
	c.Sides = sides
	return c
}
