package testserver

import (
	"bufio"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// ServeOptions says how [Base.Serve] serves.
type ServeOptions struct {
	// TLS serves HTTPS with a certificate signed by the process-wide test CA
	// for 127.0.0.1, ::1, localhost and Hosts.
	TLS bool
	// Hosts are more DNS names for the certificate (wildcards allowed).
	Hosts []string
	// HTTP2 offers h2 as well as http/1.1 over TLS (gRPC needs it), and
	// without TLS serves plaintext HTTP/2 (h2c) beside HTTP/1.1.
	HTTP2 bool
	// TempDirPrefix names a temporary directory created for the server
	// ([Base.Dir]) and removed by Close; empty creates none.
	TempDirPrefix string
}

// httpState is the serving half of a Base.
type httpState struct {
	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener // the 127.0.0.1 listener, TLS-wrapped when TLS is on
	tlsConf  *tls.Config
	pushed   chan net.Conn
	served   chan struct{}
	addr     string
	dir      string
	conns    map[string]net.Conn // by remote address
	closing  bool
	isDead   bool
	handlers sync.WaitGroup
}

// Serve starts serving h on a random port of 127.0.0.1. Every request
// first passes the harness: once the endpoint is dead ([Base.RefuseAfter])
// its connection is reset, and while the server closes it is refused.
func (b *Base) Serve(h http.Handler, o ServeOptions) error {
	st := &b.http
	if o.TempDirPrefix != "" {
		dir, err := os.MkdirTemp("", o.TempDirPrefix)
		if err != nil {
			return err
		}
		st.dir = dir
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.removeDir()
		return err
	}
	st.addr = ln.Addr().String()
	st.conns = map[string]net.Conn{}
	st.pushed = make(chan net.Conn)
	st.served = make(chan struct{})
	st.srv = &http.Server{
		Handler:           b.gate(h),
		ConnState:         b.trackConn,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes and resets are expected in tests
		ReadHeaderTimeout: 10 * time.Second,
	}
	if !o.TLS && o.HTTP2 {
		// Plaintext HTTP/2 with prior knowledge (h2c), as gRPC speaks to
		// a plaintext endpoint such as a local emulator.
		protos := new(http.Protocols)
		protos.SetHTTP1(true)
		protos.SetUnencryptedHTTP2(true)
		st.srv.Protocols = protos
	}
	if o.TLS {
		cert, err := issue(o.Hosts)
		if err != nil {
			_ = ln.Close()
			b.removeDir()
			return err
		}
		protos := []string{"http/1.1"}
		if o.HTTP2 {
			protos = []string{"h2", "http/1.1"}
		}
		st.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos, MinVersion: tls.VersionTLS12}
		st.srv.TLSConfig = st.tlsConf
		ln = tls.NewListener(ln, st.tlsConf)
	}
	st.ln = ln
	go func() {
		defer close(st.served)
		_ = st.srv.Serve(&mergedListener{b: b})
	}()
	return nil
}

// Addr returns the address the server listens on, "127.0.0.1:PORT".
func (b *Base) Addr() string { return b.http.addr }

// Dir returns the server's temporary directory (see
// ServeOptions.TempDirPrefix), removed by Close.
func (b *Base) Dir() string { return b.http.dir }

// Push hands c to the server as if its listener had accepted it: a
// connection tunnelled through a CONNECT request, for servers that also act
// as a proxy. With TLS on, the server's TLS handshake runs over c. It
// reports false when the server is closing.
func (b *Base) Push(c net.Conn) bool {
	if b.http.tlsConf != nil {
		c = tls.Server(c, b.http.tlsConf)
	}
	select {
	case b.http.pushed <- c:
		return true
	case <-b.closed:
		return false
	}
}

// Tunnel answers a CONNECT request with "200 Connection established" and
// serves what the client sends through the tunnel itself (see [Base.Push]),
// as a proxy that intercepts the host does.
func (b *Base) Tunnel(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "proxy over HTTP/2 is not supported", http.StatusHTTPVersionNotSupported)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = conn.Close()
		return
	}
	if !b.Push(&bufferedConn{Conn: conn, r: brw.Reader}) {
		_ = conn.Close()
	}
}

// bufferedConn is a hijacked connection whose first bytes may already sit
// in the server's read buffer.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r != nil && c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// NetConn returns the underlying connection, for a reset.
func (c *bufferedConn) NetConn() net.Conn { return c.Conn }

// mergedListener returns the connections of the real listener and the
// pushed ones.
type mergedListener struct {
	b    *Base
	once sync.Once
	acc  chan net.Conn
	err  chan error
}

func (l *mergedListener) Accept() (net.Conn, error) {
	st := &l.b.http
	l.once.Do(func() {
		l.acc, l.err = make(chan net.Conn), make(chan error, 1)
		go func() {
			for {
				c, err := st.ln.Accept()
				if err != nil {
					l.err <- err
					return
				}
				select {
				case l.acc <- c:
				case <-l.b.closed:
					_ = c.Close()
					return
				}
			}
		}()
	})
	select {
	case c := <-l.acc:
		return c, nil
	case c := <-st.pushed:
		return c, nil
	case err := <-l.err:
		l.err <- err
		return nil, err
	case <-l.b.closed:
		return nil, net.ErrClosed
	}
}

func (l *mergedListener) Close() error { return l.b.http.ln.Close() }

func (l *mergedListener) Addr() net.Addr { return l.b.http.ln.Addr() }

// gate wraps a server's handler: it refuses requests while the server
// closes, resets them once the endpoint is dead, and counts handlers so
// Close can wait for them.
func (b *Base) gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &b.http
		st.mu.Lock()
		if st.closing {
			st.mu.Unlock()
			w.Header().Set("Connection", "close")
			http.Error(w, "server closing", http.StatusServiceUnavailable)
			return
		}
		dead := st.isDead
		st.handlers.Add(1)
		st.mu.Unlock()
		defer st.handlers.Done()
		if dead {
			b.Drop(r)
		}
		h.ServeHTTP(w, r)
	})
}

func (b *Base) trackConn(c net.Conn, state http.ConnState) {
	st := &b.http
	st.mu.Lock()
	defer st.mu.Unlock()
	switch state {
	case http.StateNew:
		st.conns[c.RemoteAddr().String()] = c
	case http.StateClosed, http.StateHijacked:
		if st.conns[c.RemoteAddr().String()] == c {
			delete(st.conns, c.RemoteAddr().String())
		}
	}
}

// Drop closes the connection r arrived on without an answer, with a TCP
// reset where it can ("connection reset by peer"), and aborts the handler:
// it does not return.
func (b *Base) Drop(r *http.Request) {
	st := &b.http
	st.mu.Lock()
	c := st.conns[r.RemoteAddr]
	st.mu.Unlock()
	if c != nil {
		reset(c)
	}
	panic(http.ErrAbortHandler)
}

// reset closes c, unwrapping TLS and tunnel layers to send a TCP RST
// instead of a clean close.
func reset(c net.Conn) {
	for {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
			_ = tc.Close()
			return
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			_ = c.Close()
			return
		}
		c = u.NetConn()
	}
}

// RefuseAfter makes the endpoint die after n more requests, as a crashed
// or stopped server does: the n-th request is still answered, then the
// listener closes, so new connections are refused (ECONNREFUSED) and every
// request on a connection that is still open is reset. n <= 0 kills it at
// once. A dead endpoint stays dead until Close; Reset does not revive it.
func (b *Base) RefuseAfter(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n <= 0 {
		b.die()
		return
	}
	b.refuseIn = n
}

// Dead reports whether the endpoint has stopped listening.
func (b *Base) Dead() bool {
	b.http.mu.Lock()
	defer b.http.mu.Unlock()
	return b.http.isDead
}

// dead reports whether the endpoint has stopped listening; b.mu is held.
func (b *Base) dead() bool { return b.Dead() }

// die closes the listener and every idle connection; connections with a
// request in flight are reset when their next request arrives.
func (b *Base) die() {
	st := &b.http
	st.mu.Lock()
	if st.isDead || st.srv == nil {
		st.isDead = true
		st.mu.Unlock()
		return
	}
	st.isDead = true
	st.mu.Unlock()
	_ = st.ln.Close()
	st.srv.SetKeepAlivesEnabled(false) // closes idle connections
}

// Close releases every request that is stalled or waiting out latency,
// stops the server, closes every connection, waits for the handlers to
// return and removes the temporary directory. It is safe to call more than
// once. Servers call it from their own Close.
func (b *Base) Close() {
	b.closeOnce.Do(func() {
		close(b.closed)
		st := &b.http
		st.mu.Lock()
		st.closing = true
		srv := st.srv
		st.mu.Unlock()
		if srv != nil {
			_ = srv.Close()
			<-st.served
			done := make(chan struct{})
			go func() {
				st.handlers.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
			}
		}
		b.removeDir()
	})
}

func (b *Base) removeDir() {
	if b.http.dir != "" {
		_ = os.RemoveAll(b.http.dir)
	}
}
