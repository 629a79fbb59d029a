// kubelet-peer plays the kubelet's side of the device-plugin API v1beta1, built on the upstream
// k8s.io/kubelet package. Subcommands:
//
//	conformance --dir D --fixture F [--health-file H] [--metrics-url U] -- PLUGIN ARGS...
//	    serves Registration on D/kubelet.sock, starts the plugin, checks every answer; exit 1
//	    when any check fails.
//	bench --dir D --fixture F [--iters N] [--metric M] -- PLUGIN ARGS...
//	    times GetPreferredAllocation and Allocate over the plugin's unix socket; prints p50 and
//	    p99 in microseconds, the chosen metric last.
//	floor-plugin --dir D --fixture F [--socket S] [--resource R]
//	    a minimal device plugin on the same upstream package: the transport's floor for bench.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kubelet-peer conformance|bench|floor-plugin [flags] [-- PLUGIN ARGS...]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dir := fs.String("dir", "", "device-plugins directory (kubelet.sock and plugin sockets)")
	fixturePath := fs.String("fixture", "", "machine fixture YAML the plugin serves")
	healthFile := fs.String("health-file", "", "health file the plugin watches (conformance)")
	resource := fs.String("resource", "zenith.ai/gpu", "GPU resource name")
	rdma := fs.String("rdma-resource", "zenith.ai/rdma", "RDMA resource name (\"\": not checked)")
	healthDeadline := fs.Duration("health-deadline", time.Second, "how soon a health flip must show")
	iters := fs.Int("iters", 2000, "timed calls per RPC (bench)")
	metric := fs.String("metric", "allocate_p99", "bench metric printed last")
	socket := fs.String("socket", "floor.sock", "floor-plugin socket name")
	metricsURL := fs.String("metrics-url", "", "the plugin's admin endpoint: checked by conformance, read by bench (\"\": not used)")
	_ = fs.Parse(os.Args[2:])
	if *dir == "" || *fixturePath == "" {
		fmt.Fprintln(os.Stderr, "kubelet-peer: --dir and --fixture are required")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "conformance":
		if fs.NArg() == 0 {
			usage()
		}
		os.Exit(runConformance(conformanceConfig{
			dir: *dir, fixturePath: *fixturePath, healthFile: *healthFile, resource: *resource,
			rdmaResource: *rdma, metricsURL: *metricsURL, healthDeadline: *healthDeadline, plugin: fs.Args()}))
	case "bench":
		if fs.NArg() == 0 {
			usage()
		}
		os.Exit(runBench(*dir, *fixturePath, *resource, *iters, *metric, *metricsURL, fs.Args()))
	case "floor-plugin":
		os.Exit(runFloorPlugin(*dir, *fixturePath, *socket, *resource))
	default:
		usage()
	}
}

type pluginProcess struct {
	cmd  *exec.Cmd
	done chan error
}

func startPlugin(argv []string, logs io.Writer) (*pluginProcess, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &pluginProcess{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// terminate sends SIGTERM and returns the exit code.
func (p *pluginProcess) terminate(timeout time.Duration) (int, error) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("no exit within %v of SIGTERM", timeout)
	}
}

func (p *pluginProcess) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
