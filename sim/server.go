package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Addrs are the bound addresses of a started Server (host:port). KVBM is
// empty when the KVBM endpoint is configured to be down for good.
type Addrs struct {
	API    string `json:"api"`
	KVBM   string `json:"kvbm"`
	System string `json:"system"`
}

// Server is the simulated target. Create it with New, bind with Start, then
// serve with Run (or Serve and Shutdown).
type Server struct {
	cfg    Config
	costs  CostModel
	cache  *KVCache
	disk   *diskStore
	fe     *frontendMetrics
	sys    *systemMetrics
	faults *faultPicker
	gt     *gtWriter

	sem     chan struct{} // batch slots
	running atomic.Int64  // sequences holding a slot

	idPrefix  [16]byte
	idSeq     atomic.Uint64
	modelJSON []byte // the model id as a JSON string
	now       func() time.Time
	started   time.Time

	lnAPI, lnKVBM, lnSys    net.Listener
	srvAPI, srvKVBM, srvSys *http.Server
	baseCtx                 context.Context
	cancelBase              context.CancelFunc
	handlers                sync.WaitGroup

	mu        sync.Mutex
	startDone bool
	serveDone bool
	shutOnce  sync.Once
	shutErr   error
}

// New checks cfg and builds a Server; nothing is bound until Start.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Faults.SlowFirstByte > 0 && cfg.Faults.SlowFirstByteDelay == 0 {
		cfg.Faults.SlowFirstByteDelay = DefaultSlowFirstByte
	}
	mj, err := json.Marshal(cfg.Model)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", cfg.Model, err)
	}
	s := &Server{
		cfg:       cfg,
		costs:     cfg.costModel(),
		fe:        newFrontendMetrics(cfg),
		sys:       newSystemMetrics(cfg),
		faults:    newFaultPicker(cfg.Faults, cfg.Seed),
		sem:       make(chan struct{}, cfg.MaxBatch),
		modelJSON: mj,
		now:       time.Now,
	}
	p := splitmix(cfg.Seed)
	hex := strconv.AppendUint(nil, p|1<<63, 16)
	copy(s.idPrefix[:], hex)
	return s, nil
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Start creates the disk tier (cpu_disk), the ground-truth writer and binds
// the listeners. On error everything it made is released.
func (s *Server) Start() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startDone {
		return errors.New("sim: already started")
	}
	defer func() {
		if err != nil {
			s.releaseStart()
		}
	}()
	var dq diskQueue
	if s.cfg.KVMode == KVModeCPUDisk {
		s.disk, err = openDiskStore(s.cfg.DiskCacheDir, s.cfg.DiskBlockFileBytes)
		if err != nil {
			return err
		}
		dq = s.disk
	}
	s.cache = newKVCache(KVCacheConfig{
		Mode:              s.cfg.KVMode,
		BlockTokens:       s.cfg.BlockTokens,
		GPUBlocks:         s.cfg.GPUBlocks,
		CPUBlocks:         s.cfg.CPUBlocks,
		DiskBlocks:        s.cfg.DiskBlocks,
		DisableDiskFilter: s.cfg.DisableDiskFilter,
		HitRateWindow:     s.cfg.HitRateWindow,
		FilterMaxEntries:  defaultFilterMaxEntries,
	}, dq)
	if s.lnAPI, err = net.Listen("tcp", s.cfg.APIAddr); err != nil {
		return fmt.Errorf("listen api %s: %w", s.cfg.APIAddr, err)
	}
	if s.cfg.Faults.KVBMDown < 1 {
		if s.lnKVBM, err = net.Listen("tcp", s.cfg.KVBMAddr); err != nil {
			return fmt.Errorf("listen kvbm %s: %w", s.cfg.KVBMAddr, err)
		}
	}
	if s.lnSys, err = net.Listen("tcp", s.cfg.SystemAddr); err != nil {
		return fmt.Errorf("listen system %s: %w", s.cfg.SystemAddr, err)
	}
	if s.cfg.GroundTruth != nil {
		s.gt = newGTWriter(s.cfg.GroundTruth)
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	base := func(net.Listener) context.Context { return s.baseCtx }
	s.srvAPI = &http.Server{Handler: s.apiMux(), BaseContext: base, ReadHeaderTimeout: 10 * time.Second}
	s.srvSys = &http.Server{Handler: s.systemMux(), BaseContext: base, ReadHeaderTimeout: 10 * time.Second}
	if s.lnKVBM != nil {
		s.srvKVBM = &http.Server{Handler: s.kvbmMux(), BaseContext: base, ReadHeaderTimeout: 10 * time.Second}
	}
	s.started = s.now()
	s.startDone = true
	s.logf("sim: listening api=%s kvbm=%s system=%s kv_mode=%s costs=%+v time_scale=%v g1=%d g2=%d g3=%d blocks",
		s.lnAPI.Addr(), s.Addrs().KVBM, s.lnSys.Addr(), s.cfg.KVMode, s.cfg.Costs, s.cfg.TimeScale,
		s.cfg.GPUBlocks, s.cfg.CPUBlocks, s.cfg.DiskBlocks)
	return nil
}

func (s *Server) releaseStart() {
	for _, ln := range []net.Listener{s.lnAPI, s.lnKVBM, s.lnSys} {
		if ln != nil {
			ln.Close()
		}
	}
	if s.gt != nil {
		s.gt.close()
	}
	if s.disk != nil {
		s.disk.close()
	}
}

// Addrs returns the bound addresses; empty before Start.
func (s *Server) Addrs() Addrs {
	var a Addrs
	if s.lnAPI != nil {
		a.API = s.lnAPI.Addr().String()
	}
	if s.lnKVBM != nil {
		a.KVBM = s.lnKVBM.Addr().String()
	}
	if s.lnSys != nil {
		a.System = s.lnSys.Addr().String()
	}
	return a
}

// Config returns the configuration in force.
func (s *Server) Config() Config { return s.cfg }

// Cache returns the tier model (nil before Start), for tests and planning.
func (s *Server) Cache() *KVCache { return s.cache }

// Serve serves the three endpoints until Shutdown; it returns nil after a
// Shutdown and the first serving error otherwise.
func (s *Server) Serve() error {
	s.mu.Lock()
	if !s.startDone {
		s.mu.Unlock()
		return errors.New("sim: serve before start")
	}
	if s.serveDone {
		s.mu.Unlock()
		return errors.New("sim: already serving")
	}
	s.serveDone = true
	s.mu.Unlock()
	type pair struct {
		srv *http.Server
		ln  net.Listener
	}
	pairs := []pair{{s.srvAPI, s.lnAPI}, {s.srvSys, s.lnSys}}
	if s.srvKVBM != nil {
		pairs = append(pairs, pair{s.srvKVBM, s.lnKVBM})
	}
	errc := make(chan error, len(pairs))
	for _, p := range pairs {
		go func() {
			err := p.srv.Serve(p.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			errc <- err
		}()
	}
	var first error
	for range pairs {
		if err := <-errc; err != nil && first == nil {
			first = fmt.Errorf("serve: %w", err)
			// One endpoint failed: stop the others too.
			go s.Shutdown(context.Background())
		}
	}
	return first
}

// Run starts the server if needed, serves until ctx is cancelled, then
// shuts down: in-flight requests are cancelled, the ground truth is flushed
// and the disk tier's directory removed.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	started := s.startDone
	s.mu.Unlock()
	if !started {
		if err := s.Start(); err != nil {
			return err
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.Serve() }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.Shutdown(sctx)
		if e := <-serveErr; err == nil {
			err = e
		}
		return err
	case err := <-serveErr:
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if e := s.Shutdown(sctx); err == nil {
			err = e
		}
		return err
	}
}

// Shutdown stops the listeners, cancels in-flight requests, waits for their
// handlers, flushes the ground truth and removes the disk tier. It is safe
// to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.mu.Lock()
		started := s.startDone
		s.mu.Unlock()
		if !started {
			return
		}
		// Note: a simulator has nothing to finish gracefully; in-flight
		// requests are cancelled at once so shutdown is prompt.
		s.cancelBase()
		var errs []error
		for _, srv := range []*http.Server{s.srvAPI, s.srvKVBM, s.srvSys} {
			if srv == nil {
				continue
			}
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				errs = append(errs, fmt.Errorf("shutdown: %w", err))
			}
		}
		// Listeners that never reached Serve are not closed by the http
		// servers.
		for _, ln := range []net.Listener{s.lnAPI, s.lnKVBM, s.lnSys} {
			if ln != nil {
				ln.Close()
			}
		}
		s.handlers.Wait()
		st := s.cache.Stats()
		s.logf("sim: stopped; kvbm offload d2h=%d h2d=%d onboard h2d=%d d2d=%d matched_tokens=%d",
			st.OffloadBlocksD2H, st.OffloadBlocksH2D, st.OnboardBlocksH2D, st.OnboardBlocksD2D, st.MatchedTokens)
		if s.gt != nil {
			if err := s.gt.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.disk != nil {
			s.logf("sim: G3 files written=%d (%d bytes) read=%d (%d bytes) removed=%d in %s",
				s.disk.writes.Load(), s.disk.bytesWritten.Load(), s.disk.reads.Load(), s.disk.bytesRead.Load(),
				s.disk.removes.Load(), s.disk.dir)
			if n := s.disk.failures.Load(); n > 0 {
				s.logf("sim: %d G3 file operations failed, last: %v", n, s.disk.lastErr.Load())
			}
			if err := s.disk.close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.shutErr = errors.Join(errs...)
	})
	return s.shutErr
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log == nil {
		return
	}
	fmt.Fprintf(s.cfg.Log, format+"\n", args...)
}

func (s *Server) scale(d time.Duration) time.Duration {
	if s.cfg.TimeScale == 1 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) * s.cfg.TimeScale)
}

const metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (s *Server) apiMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.handleModels)
	mux.HandleFunc("POST /v1/completions", s.handleCompletions)
	mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	mux.HandleFunc("GET /health", handleHealth)
	mux.HandleFunc("GET /live", handleHealth)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		writeMetrics(w, s.fe.write)
	})
	return mux
}

func (s *Server) kvbmMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		switch s.faults.scrape() {
		case scrapeDown:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
			}
			return
		case scrapeGarbage:
			w.Header().Set("Content-Type", metricsContentType)
			io.WriteString(w, "<html>\x00kvbm{{ offload=?? \n# TYPE\n\xff\xfe garbage\n")
			return
		}
		st := s.cache.Stats()
		writeMetrics(w, func(b []byte) []byte { return writeKVBM(b, st) })
	})
	return mux
}

func (s *Server) systemMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", handleHealth)
	mux.HandleFunc("GET /live", handleHealth)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		up := s.now().Sub(s.started).Seconds()
		writeMetrics(w, func(b []byte) []byte { return s.sys.write(b, up) })
	})
	return mux
}

// writeMetrics answers a scrape with the page write appends to a pooled
// buffer.
func writeMetrics(w http.ResponseWriter, write func([]byte) []byte) {
	bp := bufPool.Get().(*[]byte)
	b := write((*bp)[:0])
	w.Header().Set("Content-Type", metricsContentType)
	w.Write(b)
	*bp = b
	bufPool.Put(bp)
}

func handleHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"healthy"}`)
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 0, 128)
	b = append(b, `{"object":"list","data":[{"id":`...)
	b = append(b, s.modelJSON...)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, s.now().Unix(), 10)
	b = append(b, `,"owned_by":"nvidia"}]}`...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// writeError writes Dynamo's error body {"message","type","code"}.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    int    `json:"code"`
	}{msg, http.StatusText(code), code})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}
