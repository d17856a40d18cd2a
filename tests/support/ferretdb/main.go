// Command ferretdb-launcher runs an embedded FerretDB (SQLite storage in a scratch folder) on a
// loopback port, for poolkit's tests, benchmarks and demo.
//
// It prints the MongoDB URL on the first line of stdout and, when enabled, the metrics URL on the
// second. With --tls-cert and --tls-key the port speaks TLS only (the URL then ends in
// ?tls=true); --tls-ca adds client authentication: FerretDB then requires a client certificate
// signed by that CA. SIGTERM or SIGINT stops it cleanly: FerretDB closes its listener and client
// connections, and the scratch folder is removed.
//
// The embedded FerretDB package keeps its own Prometheus collectors private, so the launcher
// serves one figure of its own on the metrics address: the client connections this process
// holds open right now, read from the kernel's socket table. Tests use it to see the
// connections the server really has, not what the client believes it has.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	port := flag.Int("port", 0, "TCP port on 127.0.0.1 for the MongoDB protocol (0: any free port)")
	metricsPort := flag.Int("metrics-port", -1,
		"TCP port on 127.0.0.1 for the metrics page (0: any free port, -1: no metrics page)")
	dataDir := flag.String("data-dir", "", "folder for the SQLite files (default: a scratch folder removed at exit)")
	logLevel := flag.String("log-level", "warn", "FerretDB log level: debug, info, warn or error")
	var tls tlsFiles
	flag.StringVar(&tls.cert, "tls-cert", "", "PEM server certificate: the port then speaks TLS only (needs --tls-key)")
	flag.StringVar(&tls.key, "tls-key", "", "PEM private key of --tls-cert")
	flag.StringVar(&tls.ca, "tls-ca", "", "PEM CA bundle: clients must present a certificate it signs (needs --tls-cert)")
	flag.Parse()

	if err := tls.check(); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(2)
	}
	if err := run(*port, *metricsPort, *dataDir, *logLevel, tls); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %v\n", err)
		os.Exit(1)
	}
}

// tlsFiles are the TLS listener's files; all empty: plain TCP.
type tlsFiles struct {
	cert, key, ca string
}

func (t tlsFiles) enabled() bool { return t.cert != "" }

func (t tlsFiles) check() error {
	if (t.cert == "") != (t.key == "") {
		return errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if t.ca != "" && t.cert == "" {
		return errors.New("--tls-ca (client authentication) needs --tls-cert and --tls-key")
	}
	return nil
}

// listener is the FerretDB listener on 127.0.0.1:port: TLS only when the files are given (FerretDB
// then requires client certificates if a CA is given too), else plain TCP.
func (t tlsFiles) listener(port int) ferretdb.ListenerConfig {
	address := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if !t.enabled() {
		return ferretdb.ListenerConfig{TCP: address}
	}
	return ferretdb.ListenerConfig{TLS: address, TLSCertFile: t.cert, TLSKeyFile: t.key, TLSCAFile: t.ca}
}

func run(port, metricsPort int, dataDir, logLevel string, tls tlsFiles) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", logLevel, err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if dataDir == "" {
		scratch, err := os.MkdirTemp("", "poolkit-ferretdb-")
		if err != nil {
			return fmt.Errorf("creating a scratch folder for the SQLite files: %w", err)
		}
		defer os.RemoveAll(scratch)
		dataDir = scratch
	}
	absDir, err := filepath.Abs(dataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %q: %w", dataDir, err)
	}
	if err = os.MkdirAll(absDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir %q: %w", dataDir, err)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  tls.listener(port),
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + absDir + "/",
	})
	if err != nil {
		return fmt.Errorf("starting FerretDB on 127.0.0.1:%d: %w", port, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()

	// MongoDBURI waits until the listener is bound, so the printed port is the real one.
	uri := f.MongoDBURI()
	fmt.Println(uri)

	if metricsPort >= 0 {
		listenPort, perr := portOf(uri)
		if perr != nil {
			stop()
			<-done
			return perr
		}
		metricsURL, merr := serveMetrics(ctx, metricsPort, listenPort)
		if merr != nil {
			stop()
			<-done
			return merr
		}
		fmt.Println(metricsURL)
	}

	<-done
	return nil
}

// portOf reads the port of mongodb://host:port/[?tls=true].
func portOf(uri string) (int, error) {
	parsed, err := url.Parse(uri)
	if err != nil {
		return 0, fmt.Errorf("reading the port of %q: %w", uri, err)
	}
	portText := parsed.Port()
	if portText == "" {
		return 0, fmt.Errorf("reading the port of %q: it has none", uri)
	}
	return strconv.Atoi(portText)
}

// serveMetrics serves a Prometheus text page with the number of client connections open on
// listenPort, until ctx ends. It returns the page's URL.
func serveMetrics(ctx context.Context, metricsPort, listenPort int) (string, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(metricsPort)))
	if err != nil {
		return "", fmt.Errorf("metrics listener on 127.0.0.1:%d: %w", metricsPort, err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		open, cerr := countOpenConnections(listenPort)
		if cerr != nil {
			http.Error(w, cerr.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "# HELP ferretdb_launcher_client_connections Client connections the server holds open now.")
		fmt.Fprintln(w, "# TYPE ferretdb_launcher_client_connections gauge")
		fmt.Fprintf(w, "ferretdb_launcher_client_connections %d\n", open)
	})
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = server.Serve(ln) }()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = server.Shutdown(shutdownCtx)
	}()

	return "http://" + ln.Addr().String() + "/metrics", nil
}

// countOpenConnections counts the established TCP sockets owned by this process whose local
// port is listenPort: the server side of every client connection that is still open.
func countOpenConnections(listenPort int) (int, error) {
	owned, err := ownedSocketInodes()
	if err != nil {
		return 0, err
	}
	count := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		n, terr := countInTable(table, listenPort, owned)
		if terr != nil && !errors.Is(terr, os.ErrNotExist) {
			return 0, terr
		}
		count += n
	}
	return count, nil
}

func ownedSocketInodes() (map[string]bool, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("listing open files: %w", err)
	}
	owned := make(map[string]bool, len(entries))
	for _, e := range entries {
		target, lerr := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if lerr != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			owned[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return owned, nil
}

// countInTable reads one /proc/net/tcp* table: columns are sl, local, remote, state, ...,
// inode (10th); addresses are HEX_IP:HEX_PORT, state 01 is ESTABLISHED.
func countInTable(path string, listenPort int, owned map[string]bool) (int, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()

	wantPort := fmt.Sprintf(":%04X", listenPort)
	count := 0
	scanner := bufio.NewScanner(file)
	scanner.Scan() // header
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 10 {
			continue
		}
		if strings.HasSuffix(fields[1], wantPort) && fields[3] == "01" && owned[fields[9]] {
			count++
		}
	}
	return count, scanner.Err()
}
