package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
)

// login is `meshd login`: it prints where the teacher's console is and the admin key to sign
// in with, from the settings and the data directory — what the Debian package shows at the end
// of its install, and again whenever it is asked.
func login(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshd login", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "meshd's data directory, for its admin-key file (default: MESH_DATA_DIR, else meshd-data)")
	if err := parseCommand(fs, "Prints the console's address and the admin key to sign in with.", args, stderr); err != nil {
		return err
	}
	addr := getenv("MESH_CONSOLE_ADDR")
	if addr == "" {
		addr = getenv("MESH_LISTEN_ADDR")
	}
	if addr == "" {
		addr = defaultListenAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	scheme := "http"
	if getenv("MESH_TLS_CERT") != "" && getenv("MESH_CONSOLE_ADDR") == "" {
		scheme = "https"
	}
	var urls []string
	for _, h := range reachableHosts(host) {
		urls = append(urls, scheme+"://"+net.JoinHostPort(h, port)+"/console/")
	}
	fmt.Fprintf(stdout, "The teacher's console: %s\n", strings.Join(urls, "  "))
	if keys := getenv("MESH_ADMIN_KEYS"); keys != "" {
		fmt.Fprintln(stdout, "Admin key: one of MESH_ADMIN_KEYS in meshd's settings")
		return nil
	}
	key, path, err := readAdminKey(commandDataDir(*dataDir, getenv))
	if err != nil {
		return fmt.Errorf("%w (meshd writes it at its first start)", err)
	}
	fmt.Fprintf(stdout, "Admin key: %s  (kept in %s)\n", key, path)
	return nil
}

// reachableHosts are the addresses a browser on the school's network can use for a listener on
// host: host itself when it is one address, else this machine's LAN addresses (127.0.0.1
// when it has none).
func reachableHosts(host string) []string {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return []string{host}
	}
	if hosts := lanHosts(); len(hosts) > 0 {
		return hosts
	}
	return []string{"127.0.0.1"}
}

// lanHosts are this machine's IPv4 addresses other browsers can reach: neither loopback nor
// link-local.
func lanHosts() []string {
	var hosts []string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			hosts = append(hosts, n.IP.String())
		}
	}
	return hosts
}
