package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// commands are meshd's commands, for -h.
var commands = []struct{ usage, about string }{
	{"meshd [flags]", "serve the API until SIGINT or SIGTERM"},
	{"meshd version", "print the version and build of this binary (also -version, -v)"},
	{"meshd check [flags]", "check settings, data directory and state file; write nothing"},
	{"meshd backup [flags] FILE", "write a consistent copy of the state file to FILE (- for stdout)"},
	{"meshd restore [flags] FILE", "replace the state file with the backup FILE (meshd stopped)"},
	{"meshd status", "print a one-screen summary of a running meshd (meshd status -h)"},
	{"meshd login", "print the console's address and the admin key to sign in with"},
	{"meshd console-link", "print a fresh one-time login link to the running meshd's console"},
	{"meshd help", "print this help (also -h)"},
}

// command runs the command args name; without one, meshd serves.
func command(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	name := ""
	if len(args) > 0 {
		name = args[0]
	}
	switch name {
	case "version", "-version", "--version", "-v":
		if len(args) > 1 {
			return usageError{fmt.Errorf("version takes no arguments, got %q", args[1])}
		}
		_, err := fmt.Fprintln(stdout, readBuildInfo())
		return err
	case "check":
		return check(args[1:], environ, stdout)
	case "backup":
		return backup(ctx, args[1:], environ, stdout)
	case "restore":
		return restore(args[1:], environ, stdout)
	case "status":
		return status(ctx, args[1:], lookup(environ), stdout, stderr)
	case "login":
		return login(args[1:], lookup(environ), stdout, stderr)
	case "console-link":
		return consoleLink(ctx, args[1:], lookup(environ), stdout, stderr)
	case "help":
		return run(ctx, []string{"-h"}, environ, stdout, stderr)
	}
	return run(ctx, args, environ, stdout, stderr)
}

// parseCommand parses the flags of a command that takes no arguments, such as `meshd login`
// (fs's name): -h prints about and the flags and returns flag.ErrHelp; a mistake is a
// usageError.
func parseCommand(fs *flag.FlagSet, about string, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s [flags]\n\n%s\n\n", fs.Name(), about)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", strings.TrimPrefix(fs.Name(), "meshd "), fs.Arg(0))}
	}
	return nil
}

// exitStatus reports err on stderr and returns meshd's exit status: 0 when there is none (or
// -h was asked for), 2 for a mistake in the command line or the environment, 1 otherwise.
func exitStatus(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "meshd:", err)
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "Run 'meshd -h' for the commands and every setting.")
		return 2
	}
	return 1
}

// lookup is getenv over environ, a list of KEY=value as os.Environ returns it; the last of a
// repeated key wins, as in the C library.
func lookup(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(k string) string { return m[k] }
}
