package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler serves the network's faults over HTTP, for a cluster driven by
// hand (eosctl dev cluster --network-faults). Every answer is JSON: the links
// (GET /links) or {"ok":true}, else {"error":"..."} with status 400 for
// invalid input and 500 otherwise.
//
//	GET  /links                              every link, its counters and faults
//	POST /isolate/{node}                     Isolate
//	POST /partition   {"groups":[[1],[2,3]]} Partition
//	POST /partition-brokers {"groups":[[1]]} PartitionBrokers (replication only)
//	POST /cut-clients[/{node}]               CutClients (every broker without a node)
//	POST /cut-answers[/{node}]               CutAnswers (every broker without a node)
//	POST /latency?ms=100&jitter=20[&nodes=1,2]   Latency
//	POST /bandwidth?kbps=64[&nodes=1]        Bandwidth (kilobytes per second)
//	POST /reset-after?bytes=4096[&nodes=1]   ResetAfter
//	POST /heal                               Heal
func (n *Network) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /links", func(w http.ResponseWriter, _ *http.Request) {
		if err := n.check(); err != nil {
			reply(w, err)
			return
		}
		writeJSON(w, http.StatusOK, n.Links())
	})
	mux.HandleFunc("POST /isolate/{node}", func(w http.ResponseWriter, r *http.Request) {
		id, err := nodeParam(r.PathValue("node"))
		if err == nil {
			err = n.Isolate(r.Context(), id)
		}
		reply(w, err)
	})
	// POST /NAME {"groups":[...]} calls f(ctx, groups...).
	onGroups := func(name string, f func(context.Context, ...[]int32) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Groups [][]int32 `json:"groups"`
			}
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&body); err != nil {
				reply(w, fmt.Errorf(`integration: %s: body must be {"groups":[[1],[2,3]]}: %v: %w`, name, err, errBadRequest))
				return
			}
			reply(w, f(r.Context(), body.Groups...))
		}
	}
	mux.HandleFunc("POST /partition", onGroups("partition", n.Partition))
	mux.HandleFunc("POST /partition-brokers", onGroups("partition brokers", n.PartitionBrokers))
	// POST /NAME[/{node}] calls f(ctx[, node]).
	onBrokers := func(f func(context.Context, ...int32) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var ids []int32
			if s := r.PathValue("node"); s != "" {
				id, err := nodeParam(s)
				if err != nil {
					reply(w, err)
					return
				}
				ids = append(ids, id)
			}
			reply(w, f(r.Context(), ids...))
		}
	}
	mux.HandleFunc("POST /cut-clients", onBrokers(n.CutClients))
	mux.HandleFunc("POST /cut-clients/{node}", onBrokers(n.CutClients))
	mux.HandleFunc("POST /cut-answers", onBrokers(n.CutAnswers))
	mux.HandleFunc("POST /cut-answers/{node}", onBrokers(n.CutAnswers))
	mux.HandleFunc("POST /latency", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ms, err := intParam(q.Get("ms"), "ms", true)
		var jitter int64
		if err == nil {
			jitter, err = intParam(q.Get("jitter"), "jitter", false)
		}
		var nodes []int32
		if err == nil {
			nodes, err = nodesParam(q.Get("nodes"))
		}
		if err == nil {
			err = n.Latency(r.Context(), time.Duration(ms)*time.Millisecond, time.Duration(jitter)*time.Millisecond, nodes...)
		}
		reply(w, err)
	})
	// POST /NAME?PARAM=N[&nodes=...] calls f(ctx, N, nodes...).
	withNodes := func(param string, f func(context.Context, int64, ...int32) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			v, err := intParam(r.URL.Query().Get(param), param, true)
			var nodes []int32
			if err == nil {
				nodes, err = nodesParam(r.URL.Query().Get("nodes"))
			}
			if err == nil {
				err = f(r.Context(), v, nodes...)
			}
			reply(w, err)
		}
	}
	mux.HandleFunc("POST /bandwidth", withNodes("kbps", n.Bandwidth))
	mux.HandleFunc("POST /reset-after", withNodes("bytes", n.ResetAfter))
	mux.HandleFunc("POST /heal", func(w http.ResponseWriter, r *http.Request) {
		reply(w, n.Heal(r.Context()))
	})
	return mux
}

// Serve serves Handler on addr, which must be a loopback address such as
// "127.0.0.1:0", until ctx ends. It returns the base URL once listening.
func (n *Network) Serve(ctx context.Context, addr string) (string, error) {
	if err := n.check(); err != nil {
		return "", err
	}
	if err := CheckControlAddr(addr); err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("integration: control endpoint: %w", err)
	}
	srv := &http.Server{Handler: n.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String(), nil
}

// CheckControlAddr reports whether Serve accepts addr: a loopback IP and a
// port, since anyone who reaches the endpoint can cut the cluster.
func CheckControlAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("integration: control address %q: want a loopback IP and a port, e.g. 127.0.0.1:0 (anyone who reaches it can cut the cluster): %w", addr, ErrInvalidOption)
	}
	return nil
}

var errBadRequest = errors.New("bad request")

func nodeParam(s string) (int32, error) {
	id, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("integration: node %q: want a node ID: %w", s, errBadRequest)
	}
	return int32(id), nil
}

func nodesParam(s string) ([]int32, error) {
	if s == "" {
		return nil, nil
	}
	var ids []int32
	for _, part := range strings.Split(s, ",") {
		id, err := nodeParam(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func intParam(s, name string, required bool) (int64, error) {
	if s == "" && !required {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("integration: %s=%q: want an integer: %w", name, s, errBadRequest)
	}
	return v, nil
}

func reply(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case errors.Is(err, errBadRequest), errors.Is(err, ErrInvalidPartition), errors.Is(err, ErrInvalidFault),
		errors.Is(err, ErrUnknownNode), errors.Is(err, ErrNoNetworkFaults):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
