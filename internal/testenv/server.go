package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Server is a running llama-server of the built peer (Peer).
type Server struct {
	URL  string
	Port int
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan error
}

// Log is what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// Kill stops the server at once and waits for it.
func (s *Server) Kill() {
	s.cmd.Process.Kill()
	err := <-s.done
	s.done <- err // for the cleanup
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartServer runs the peer's llama-server with args on a free loopback
// port (port 0) or on port, one slot, one thread, no polling, and waits
// until it answers /health; the test stops it.
func StartServer(tb testing.TB, port int, args ...string) *Server {
	tb.Helper()
	peer := Peer(tb)
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	all := append([]string{"--host", "127.0.0.1", "--port", fmt.Sprint(port), "-np", "1", "-t", "1", "-c", "2048", "--no-webui", "--poll", "0"}, args...)
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Port: port, log: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(peer.Tool("llama-server"), all...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	tb.Cleanup(func() {
		s.cmd.Process.Kill()
		<-s.done
	})
	deadline := time.After(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			tb.Fatalf("llama-server %v exited (%v):\n%s", all, err, Tail(s.Log(), 3000))
		case <-deadline:
			tb.Fatalf("llama-server %v did not come up in 60 s:\n%s", all, Tail(s.Log(), 3000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
