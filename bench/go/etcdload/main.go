// Command etcdload is a load generator for etcd's v3 API on Go's clientv3 (etcd 3.4), the client
// etcd's own `benchmark` tool uses. It exists because a Node generator needs a large share of a
// small machine's CPU itself; a Go one leaves the cores to the servers under test, so their own
// efficiency shows.
//
// Built offline in GOPATH mode against Debian's golang-etcd-server-dev by bench/go-gen.ts:
//
//	GO111MODULE=off GOPATH=<tmp with src/tsetcd.bench/etcdload -> bench/go/etcdload>:/usr/share/gocode go build
//
// Usage (flags as etcd's benchmark where it has them):
//
//	etcdload --endpoints 127.0.0.1:2379,127.0.0.1:22379 --op put --clients 100 --conns 12 \
//	         --total 30000 --warmup 2000 --key-size 8 --val-size 256 --key-space-size 100000
//
// Ops: put; range (--consistency l|s, key --range-key, default "foo"); txn-put (a Txn with no
// compares and one Put, as etcd benchmark's txn-put); lock (clientv3/concurrency's Mutex, what
// `etcdctl lock` uses: Lock then Unlock of --lock-name, one session per client made before the
// measured phase); lock-rpc (the v3lock service: Lock then Unlock RPC, each client's own lease).
// With --clients > 1 every client contends for the one lock name. Conn i dials endpoints[i % n]; client c
// uses conn c % conns. Prints one JSON document on stdout: requests, errors (by message), rps,
// p50/p90/p99/max in milliseconds, and this process's CPU per request in microseconds.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
	"go.etcd.io/etcd/etcdserver/api/v3lock/v3lockpb"
)

type config struct {
	endpoints    []string
	op           string
	clients      int
	conns        int
	total        int64
	duration     time.Duration
	warmup       int64
	keySize      int
	valSize      int
	keySpaceSize int
	consistency  string
	rangeKey     string
	lockName     string
	timeout      time.Duration
	seed         int64
}

// result is the JSON document written to stdout.
type result struct {
	Op          string           `json:"op"`
	Clients     int              `json:"clients"`
	Conns       int              `json:"conns"`
	Requests    int64            `json:"requests"`
	Succeeded   int64            `json:"succeeded"`
	Errors      int64            `json:"errors"`
	ErrorCounts map[string]int64 `json:"errorCounts"`
	Seconds     float64          `json:"seconds"`
	Rps         float64          `json:"rps"`
	P50Ms       float64          `json:"p50Ms"`
	P90Ms       float64          `json:"p90Ms"`
	P99Ms       float64          `json:"p99Ms"`
	P999Ms      float64          `json:"p999Ms"`
	// SlowOver500Ms counts requests that took 500 ms or more (etcd's and tsetcd's ReadIndex
	// retry interval: a read answered only after a retry shows here).
	SlowOver500Ms int64   `json:"slowOver500Ms"`
	MaxMs         float64 `json:"maxMs"`
	MeanMs        float64 `json:"meanMs"`
	// ClientCPUUsPerReq is this process's user+system CPU over the measured phase per request.
	ClientCPUUsPerReq float64 `json:"clientCpuUsPerReq"`
}

func parseFlags() config {
	var c config
	var endpoints string
	flag.StringVar(&endpoints, "endpoints", "127.0.0.1:2379", "comma-separated host:port list")
	flag.StringVar(&c.op, "op", "put", "put | range | txn-put | lock | lock-rpc")
	flag.IntVar(&c.clients, "clients", 1, "concurrent requests in flight")
	flag.IntVar(&c.conns, "conns", 1, "gRPC connections (clientv3 clients)")
	flag.Int64Var(&c.total, "total", 10000, "requests in the measured phase (ignored with --duration)")
	flag.DurationVar(&c.duration, "duration", 0, "measure for this long instead of --total requests")
	flag.Int64Var(&c.warmup, "warmup", 0, "requests sent before measuring")
	flag.IntVar(&c.keySize, "key-size", 8, "key size in bytes (put, txn-put)")
	flag.IntVar(&c.valSize, "val-size", 8, "value size in bytes (put, txn-put)")
	flag.IntVar(&c.keySpaceSize, "key-space-size", 1, "distinct keys (put, txn-put)")
	flag.StringVar(&c.consistency, "consistency", "l", "range consistency: l (linearizable) or s (serializable)")
	flag.StringVar(&c.rangeKey, "range-key", "foo", "the key a range reads")
	flag.StringVar(&c.lockName, "lock-name", "bench-lock", "the lock every client takes (lock, lock-rpc)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request deadline")
	flag.Int64Var(&c.seed, "seed", 1, "key sequence seed")
	flag.Parse()
	c.endpoints = strings.Split(endpoints, ",")
	fail := func(msg string) {
		fmt.Fprintln(os.Stderr, "etcdload: "+msg)
		os.Exit(2)
	}
	switch c.op {
	case "put", "range", "txn-put", "lock", "lock-rpc":
	default:
		fail("--op must be put, range, txn-put, lock or lock-rpc")
	}
	if c.consistency != "l" && c.consistency != "s" {
		fail("--consistency must be l or s")
	}
	if c.clients < 1 || c.conns < 1 || c.keySize < 1 || c.keySpaceSize < 1 || c.valSize < 0 {
		fail("--clients, --conns, --key-size and --key-space-size must be >= 1")
	}
	if c.duration == 0 && c.total < 1 {
		fail("--total must be >= 1 (or give --duration)")
	}
	if c.keySize < binary.MaxVarintLen64 && c.keySpaceSize > 1<<(7*c.keySize-1) {
		fail("--key-size too small for --key-space-size")
	}
	return c
}

// request sends one request of the configured op through cli.
type request func(ctx context.Context, cli *clientv3.Client, rng *rand.Rand, w int) error

// lockRequest: per client w, a session (lease kept alive) made up front; each request takes the
// lock and releases it.
func lockRequest(c config, clis []*clientv3.Client) request {
	leases := make([]clientv3.LeaseID, c.clients)
	sessions := make([]*concurrency.Session, c.clients)
	for w := range sessions {
		s, err := concurrency.NewSession(clis[w%len(clis)], concurrency.WithTTL(60))
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcdload: session: %v\n", err)
			os.Exit(1)
		}
		sessions[w] = s
		leases[w] = s.Lease()
	}
	if c.op == "lock-rpc" {
		return func(ctx context.Context, cli *clientv3.Client, _ *rand.Rand, w int) error {
			lc := v3lockpb.NewLockClient(cli.ActiveConnection())
			r, err := lc.Lock(ctx, &v3lockpb.LockRequest{Name: []byte(c.lockName), Lease: int64(leases[w])})
			if err != nil {
				return err
			}
			_, err = lc.Unlock(ctx, &v3lockpb.UnlockRequest{Key: r.Key})
			return err
		}
	}
	return func(ctx context.Context, _ *clientv3.Client, _ *rand.Rand, w int) error {
		m := concurrency.NewMutex(sessions[w], c.lockName)
		if err := m.Lock(ctx); err != nil {
			return err
		}
		return m.Unlock(ctx)
	}
}

func makeRequest(c config, clis []*clientv3.Client) request {
	value := strings.Repeat("x", c.valSize)
	key := func(rng *rand.Rand) string {
		// etcd benchmark's keys: key-size bytes, starting with Go's binary.PutVarint(n).
		k := make([]byte, c.keySize)
		binary.PutVarint(k, int64(rng.Intn(c.keySpaceSize)))
		return string(k)
	}
	switch c.op {
	case "lock", "lock-rpc":
		return lockRequest(c, clis)
	case "put":
		return func(ctx context.Context, cli *clientv3.Client, rng *rand.Rand, _ int) error {
			_, err := cli.Put(ctx, key(rng), value)
			return err
		}
	case "txn-put":
		return func(ctx context.Context, cli *clientv3.Client, rng *rand.Rand, _ int) error {
			_, err := cli.Txn(ctx).Then(clientv3.OpPut(key(rng), value)).Commit()
			return err
		}
	default:
		var opts []clientv3.OpOption
		if c.consistency == "s" {
			opts = append(opts, clientv3.WithSerializable())
		}
		return func(ctx context.Context, cli *clientv3.Client, _ *rand.Rand, _ int) error {
			_, err := cli.Get(ctx, c.rangeKey, opts...)
			return err
		}
	}
}

func cpuMicros() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e6 + float64(t.Usec) }
	return tv(ru.Utime) + tv(ru.Stime)
}

// phase runs `total` requests (or until `until`, if not zero) with c.clients in flight and returns
// the successful latencies and the error counts.
func phase(c config, clis []*clientv3.Client, req request, total int64, until time.Time) ([]time.Duration, map[string]int64) {
	var next int64
	var mu sync.Mutex
	lats := make([][]time.Duration, c.clients)
	errs := map[string]int64{}
	var wg sync.WaitGroup
	for w := 0; w < c.clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cli := clis[w%len(clis)]
			rng := rand.New(rand.NewSource(c.seed + int64(w)))
			for {
				if until.IsZero() {
					if atomic.AddInt64(&next, 1) > total {
						return
					}
				} else if !time.Now().Before(until) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				start := time.Now()
				err := req(ctx, cli, rng, w)
				d := time.Since(start)
				cancel()
				if err != nil {
					mu.Lock()
					errs[err.Error()]++
					mu.Unlock()
					continue
				}
				lats[w] = append(lats[w], d)
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return all, errs
}

func main() {
	c := parseFlags()
	clis := make([]*clientv3.Client, c.conns)
	for i := range clis {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{c.endpoints[i%len(c.endpoints)]},
			DialTimeout: 10 * time.Second,
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "etcdload: connecting to %s: %v\n", c.endpoints[i%len(c.endpoints)], err)
			os.Exit(1)
		}
		defer cli.Close()
		clis[i] = cli
	}
	req := makeRequest(c, clis)
	if c.warmup > 0 {
		phase(c, clis, req, c.warmup, time.Time{})
	}
	cpu0 := cpuMicros()
	t0 := time.Now()
	var until time.Time
	if c.duration > 0 {
		until = t0.Add(c.duration)
	}
	lats, errs := phase(c, clis, req, c.total, until)
	secs := time.Since(t0).Seconds()
	cpu := cpuMicros() - cpu0
	sort.Slice(lats, func(i, j int) bool { return lats[i] < lats[j] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	q := func(p float64) float64 {
		if len(lats) == 0 {
			return 0
		}
		i := int(p * float64(len(lats)))
		if i >= len(lats) {
			i = len(lats) - 1
		}
		return ms(lats[i])
	}
	var nerr int64
	for _, n := range errs {
		nerr += n
	}
	var sum time.Duration
	for _, d := range lats {
		sum += d
	}
	ok := int64(len(lats))
	r := result{
		Op: c.op, Clients: c.clients, Conns: c.conns,
		Requests: ok + nerr, Succeeded: ok, Errors: nerr, ErrorCounts: errs,
		Seconds: secs, Rps: float64(ok) / secs,
		P50Ms: q(0.5), P90Ms: q(0.9), P99Ms: q(0.99), P999Ms: q(0.999), MaxMs: q(1),
	}
	for _, d := range lats {
		if d >= 500*time.Millisecond {
			r.SlowOver500Ms++
		}
	}
	if ok > 0 {
		r.MeanMs = ms(sum) / float64(ok)
	}
	if ok+nerr > 0 {
		r.ClientCPUUsPerReq = cpu / float64(ok+nerr)
	}
	if c.op == "range" {
		r.Op = "range-" + c.consistency
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if nerr > 0 {
		os.Exit(1)
	}
}
