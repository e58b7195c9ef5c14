// Package devpg finds or makes a PostgreSQL for `make run`, so the all-in-one dev process
// needs no setup on a machine that has PostgreSQL installed.
//
// In order it uses: FORESIGHT_DATABASE_URL; a server on 127.0.0.1:5432 that trusts user
// postgres (the usual state of a developer machine or CI box), with a database `foresight`
// created on first use; and otherwise a throwaway cluster of its own, made with the
// machine's initdb and pg_ctl under a directory the caller owns (the repository's
// .foresight/pg). The cluster's data survives restarts, so a dev run killed mid-workflow
// resumes where it stopped, as production would after a crash.
package devpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDatabaseURL is the variable that, when set, is used verbatim.
const EnvDatabaseURL = "FORESIGHT_DATABASE_URL"

// DatabaseName is the database Ensure creates on a local server or in its own cluster.
const DatabaseName = "foresight"

// ErrNoPostgres reports that no PostgreSQL could be found or made. Its message says how to
// provide one.
var ErrNoPostgres = errors.New("no PostgreSQL available: set " + EnvDatabaseURL +
	"=postgres://user:password@host:5432/db?sslmode=disable, or install PostgreSQL " +
	"(initdb and pg_ctl in PATH or /usr/lib/postgresql/*/bin, e.g. apt-get install postgresql)")

// Ensure returns the URL of a PostgreSQL database for development, and a stop function that
// shuts down a cluster Ensure started (a no-op otherwise; safe to call more than once).
// dir holds Ensure's own cluster when it has to make one; it is created if missing.
func Ensure(ctx context.Context, dir string, log *slog.Logger) (dbURL string, stop func() error, err error) {
	return defaultFinder().ensure(ctx, dir, log)
}

// finder holds what Ensure looks at, so tests can point it elsewhere without touching the
// process environment or the machine's server.
type finder struct {
	getenv func(string) string
	// adminURL reaches an already running server as a superuser; "" skips the probe.
	adminURL string
	database string
	// binGlobs are searched for initdb after PATH, newest version first.
	binGlobs []string
	usePATH  bool
}

func defaultFinder() finder {
	return finder{
		getenv:   os.Getenv,
		adminURL: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3",
		database: DatabaseName,
		binGlobs: []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/opt/homebrew/opt/postgresql*/bin"},
		usePATH:  true,
	}
}

func noop() error { return nil }

func (f finder) ensure(ctx context.Context, dir string, log *slog.Logger) (string, func() error, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if u := f.getenv(EnvDatabaseURL); u != "" {
		log.Info("postgres: using "+EnvDatabaseURL, "source", "env")
		return u, noop, nil
	}
	if f.adminURL != "" {
		u, err := ensureDatabase(ctx, f.adminURL, f.database)
		if err == nil {
			log.Info("postgres: using the local server", "source", "local", "database", f.database)
			return u, noop, nil
		}
		log.Info("postgres: no usable local server, making a cluster", "dir", dir, "err", err)
	}
	bin, err := f.findBin()
	if err != nil {
		return "", noop, err
	}
	c, err := newCluster(bin, dir)
	if err != nil {
		return "", noop, err
	}
	u, err := c.start(ctx, log, f.database)
	if err != nil {
		return "", noop, err
	}
	var once sync.Once
	var stopErr error
	return u, func() error {
		once.Do(func() { stopErr = c.stop(log) })
		return stopErr
	}, nil
}

// ensureDatabase connects with adminURL and creates database name when it is missing,
// returning the URL of that database.
func ensureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		// Another process may have created it since the look-up; that is fine.
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse admin URL: %w", err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Del("connect_timeout")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// findBin returns the directory holding initdb and pg_ctl: PATH first, then the globs,
// newest PostgreSQL version first.
func (f finder) findBin() (string, error) {
	var dirs []string
	if f.usePATH {
		if p, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				p = real
			}
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	for _, g := range f.binGlobs {
		matches, _ := filepath.Glob(g)
		slices.SortFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, matches...)
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// versionOf extracts the major version from a path like /usr/lib/postgresql/15/bin.
func versionOf(path string) int {
	for _, part := range strings.Split(path, string(filepath.Separator)) {
		if n, err := strconv.Atoi(strings.TrimPrefix(part, "postgresql@")); err == nil {
			return n
		}
	}
	return 0
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// cluster is a PostgreSQL data directory Ensure owns: dir/data, the socket in dir/sock and
// the server log in dir/postgres.log.
type cluster struct {
	bin, dir string
	// cred runs initdb and pg_ctl as an unprivileged user when this process is root, since
	// initdb refuses to run as root; nil otherwise.
	cred *syscall.Credential
	who  string
}

func newCluster(bin, dir string) (*cluster, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	c := &cluster{bin: bin, dir: abs}
	if os.Geteuid() == 0 {
		if c.cred, c.who, err = unprivilegedUser(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *cluster) sockDir() string { return filepath.Join(c.dir, "sock") }
func (c *cluster) logFile() string { return filepath.Join(c.dir, "postgres.log") }

// unprivilegedUser picks the account a root process runs PostgreSQL as.
func unprivilegedUser() (*syscall.Credential, string, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, name, nil
	}
	return nil, "", fmt.Errorf("%w (running as root, initdb refuses root, and there is no postgres or nobody user to run it as)", ErrNoPostgres)
}

func (c *cluster) start(ctx context.Context, log *slog.Logger, database string) (string, error) {
	for _, d := range []string{c.dir, c.sockDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", fmt.Errorf("create %s: %w", d, err)
		}
	}
	if c.cred != nil {
		if err := c.handOver(); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(filepath.Join(c.dataDir(), "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("postgres: initdb", "dir", c.dataDir(), "bin", c.bin, "user", c.who)
		// --no-sync: a dev cluster made from nothing can be remade from nothing.
		if out, err := c.run(ctx, "initdb", "-D", c.dataDir(), "-U", "postgres", "-A", "trust",
			"-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
			return "", fmt.Errorf("initdb in %s: %w: %s", c.dataDir(), err, out)
		}
	}
	port, running := c.runningPort()
	if running {
		// A previous dev process was killed and left its server behind; adopt it.
		log.Info("postgres: adopting the running cluster", "dir", c.dataDir(), "port", port)
	} else {
		var err error
		if port, err = freePort(); err != nil {
			return "", err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, shellQuote(c.sockDir()))
		if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60",
			"-o", opts, "start"); err != nil {
			return "", fmt.Errorf("pg_ctl start (log %s): %w: %s", c.logFile(), err, out)
		}
		log.Info("postgres: started a cluster", "dir", c.dataDir(), "port", port)
	}
	admin := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
	u, err := ensureDatabase(ctx, admin, database)
	if err != nil {
		if !running {
			_ = c.stop(log)
		}
		return "", fmt.Errorf("cluster in %s: %w", c.dir, err)
	}
	return u, nil
}

// runningPort reports the port of a server already running on the data directory, from
// the postmaster.pid that PostgreSQL writes (line 4 is the port).
func (c *cluster) runningPort() (int, bool) {
	b, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	if _, err := c.run(context.Background(), "pg_ctl", "-D", c.dataDir(), "status"); err != nil {
		return 0, false // stale pid file; pg_ctl start removes it
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return 0, false
	}
	return port, true
}

func (c *cluster) stop(log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, running := c.runningPort(); !running {
		return nil
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", c.dataDir(), "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop %s: %w: %s", c.dataDir(), err, out)
	}
	log.Info("postgres: stopped the cluster", "dir", c.dataDir())
	return nil
}

// handOver gives the unprivileged user the cluster directory, after checking it can reach
// it at all: a directory under a private home (0700) cannot be handed over by chown alone.
func (c *cluster) handOver() error {
	for d := filepath.Dir(c.dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		if !traversable(st, c.cred) {
			return fmt.Errorf("%w (running as root, PostgreSQL runs as %s, who cannot enter %s: chmod o+x it, or choose another directory)",
				ErrNoPostgres, c.who, d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return filepath.WalkDir(c.dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("hand %s to %s: %w", path, c.who, err)
		}
		return nil
	})
}

func traversable(st os.FileInfo, cred *syscall.Credential) bool {
	mode := st.Mode().Perm()
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return true // cannot tell; let initdb report it
	case sys.Uid == cred.Uid:
		return mode&0o100 != 0
	case sys.Gid == cred.Gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

// run executes a PostgreSQL program from the cluster's bin directory, as the unprivileged
// user when there is one, and returns its combined output.
func (c *cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, prog), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + c.bin + ":/usr/bin:/bin", "LC_ALL=C", "HOME=" + c.dir}
	// Its own session keeps the server out of our terminal's process group, so Ctrl-C
	// reaches only the dev process, which then stops the server in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: c.cred}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// shellQuote quotes s for the shell pg_ctl starts postgres with.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
