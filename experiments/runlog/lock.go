package runlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrLocked: another process is writing the same shard of the run folder.
var ErrLocked = errors.New("run folder is being written by another process")

// Lock is a writer's advisory lock (flock) on one shard of a run folder:
// the file .lock-<shard> in the folder, holding the holder's pid, host and
// start time. The kernel releases it when the holder exits, however it
// exits, so a lock left by a killed process is simply taken over.
// Different shards of one run may write the same folder at once.
type Lock struct {
	f *os.File
}

// TakeLock takes the lock of shard in dir, or fails at once with an error
// wrapping ErrLocked that names the holder.
func TakeLock(dir, shard string) (*Lock, error) {
	path := filepath.Join(dir, ".lock-"+shard)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run folder: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "an unknown process"
			}
			return nil, fmt.Errorf("%s (shard %s): %w: %s; wait for it to finish, or write to another folder", dir, shard, ErrLocked, who)
		}
		return nil, fmt.Errorf("lock run folder %s: %w", dir, err)
	}
	host, _ := os.Hostname()
	f.Truncate(0)
	fmt.Fprintf(f, "pid %d on host %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	f.Sync()
	return &Lock{f: f}, nil
}

// Release gives the lock up. The lock file stays (removing it would race
// with a process about to take it).
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
