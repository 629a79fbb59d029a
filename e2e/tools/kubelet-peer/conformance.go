package main

// The conformance run: plays the kubelet against a real plugin process and checks every answer
// of the v1beta1 API, registration after a kubelet restart and after the plugin's socket is
// removed, a health flip through the fixture health file, and a clean SIGTERM.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/status"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type checker struct{ failures int }

func (c *checker) check(name string, err error) bool {
	if err != nil {
		c.failures++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return false
	}
	fmt.Printf("ok   %s\n", name)
	return true
}

type conformanceConfig struct {
	dir, fixturePath, healthFile, resource, rdmaResource, metricsURL string
	healthDeadline                                                   time.Duration
	plugin                                                           []string
}

// watchStream keeps the latest ListAndWatch answer and when it came.
type watchStream struct {
	updates chan *pluginapi.ListAndWatchResponse
	cancel  context.CancelFunc
}

func watch(c *pluginClient) (*watchStream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.api.ListAndWatch(ctx, &pluginapi.Empty{})
	if err != nil {
		cancel()
		return nil, err
	}
	w := &watchStream{updates: make(chan *pluginapi.ListAndWatchResponse, 64), cancel: cancel}
	go func() {
		defer close(w.updates)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			w.updates <- r
		}
	}()
	return w, nil
}

// next waits for an update that satisfies `ok`, returning how long it took.
func (w *watchStream) next(timeout time.Duration, ok func(*pluginapi.ListAndWatchResponse) bool) (time.Duration, *pluginapi.ListAndWatchResponse, error) {
	start := time.Now()
	deadline := time.After(timeout)
	for {
		select {
		case r, open := <-w.updates:
			if !open {
				return 0, nil, fmt.Errorf("ListAndWatch stream ended")
			}
			if ok(r) {
				return time.Since(start), r, nil
			}
		case <-deadline:
			return 0, nil, fmt.Errorf("no matching ListAndWatch update within %v", timeout)
		}
	}
}

func healthOf(r *pluginapi.ListAndWatchResponse, id string) string {
	for _, d := range r.Devices {
		if d.ID == id {
			return d.Health
		}
	}
	return "absent"
}

func runConformance(cfg conformanceConfig) int {
	c := &checker{}
	fx, err := loadFixture(cfg.fixturePath)
	if !c.check("load fixture "+cfg.fixturePath, err) {
		return 1
	}
	kubelet := newFakeKubelet(cfg.dir)
	if !c.check("serve Registration on "+kubelet.socket(), kubelet.start()) {
		return 1
	}
	defer kubelet.stop()
	plugin, err := startPlugin(cfg.plugin, os.Stderr)
	if !c.check("start plugin "+strings.Join(cfg.plugin, " "), err) {
		return 1
	}
	defer plugin.kill()

	// --- Registration.
	reg, err := kubelet.waitRegister(cfg.resource, 15*time.Second)
	if !c.check("plugin registers "+cfg.resource, err) {
		return 1
	}
	c.check("Register: version, endpoint, options", func() error {
		if reg.Version != pluginapi.Version {
			return fmt.Errorf("version %q, want %q", reg.Version, pluginapi.Version)
		}
		if reg.Endpoint == "" || strings.Contains(reg.Endpoint, "/") {
			return fmt.Errorf("endpoint %q is not a file name in the device-plugins dir", reg.Endpoint)
		}
		if _, err := os.Stat(filepath.Join(cfg.dir, reg.Endpoint)); err != nil {
			return fmt.Errorf("endpoint socket: %w", err)
		}
		if reg.Options == nil || !reg.Options.GetPreferredAllocationAvailable {
			return fmt.Errorf("options %v: GetPreferredAllocationAvailable should be true", reg.Options)
		}
		return nil
	}())
	client, err := dialPlugin(cfg.dir, reg.Endpoint)
	if !c.check("dial plugin socket", err) {
		return 1
	}
	defer client.close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	opts, err := client.api.GetDevicePluginOptions(ctx, &pluginapi.Empty{})
	c.check("GetDevicePluginOptions matches Register", func() error {
		if err != nil {
			return err
		}
		if opts.PreStartRequired != reg.Options.PreStartRequired ||
			opts.GetPreferredAllocationAvailable != reg.Options.GetPreferredAllocationAvailable {
			return fmt.Errorf("got %v, registered %v", opts, reg.Options)
		}
		return nil
	}())

	// --- ListAndWatch: every GPU by UUID, Healthy, with its NUMA node.
	w, err := watch(client)
	if !c.check("ListAndWatch opens", err) {
		return 1
	}
	defer func() { w.cancel() }()
	_, first, err := w.next(10*time.Second, func(*pluginapi.ListAndWatchResponse) bool { return true })
	c.check("ListAndWatch lists every GPU, Healthy, with NUMA TopologyInfo", func() error {
		if err != nil {
			return err
		}
		if len(first.Devices) != len(fx.GPUs) {
			return fmt.Errorf("%d devices, fixture has %d GPUs", len(first.Devices), len(fx.GPUs))
		}
		for _, d := range first.Devices {
			p := fx.position(d.ID)
			if p < 0 {
				return fmt.Errorf("device %q is no GPU UUID of the fixture", d.ID)
			}
			if d.Health != pluginapi.Healthy {
				return fmt.Errorf("device %s is %q", d.ID, d.Health)
			}
			want := fx.GPUs[p].NumaNode
			if want != nil && *want >= 0 {
				if d.Topology == nil || len(d.Topology.Nodes) != 1 || d.Topology.Nodes[0].ID != int64(*want) {
					return fmt.Errorf("device %s topology %v, want NUMA node %d", d.ID, d.Topology, *want)
				}
			}
		}
		return nil
	}())
	var all []string
	for _, g := range fx.GPUs {
		all = append(all, g.UUID)
	}
	positions := func(ids []string) []int {
		var out []int
		for _, id := range ids {
			out = append(out, fx.position(id))
		}
		return out
	}

	// --- GetPreferredAllocation.
	preferred := func(available, must []string, size int) ([]string, error) {
		r, err := client.api.GetPreferredAllocation(ctx, &pluginapi.PreferredAllocationRequest{
			ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{{
				AvailableDeviceIDs: available, MustIncludeDeviceIDs: must, AllocationSize: int32(size)}}})
		if err != nil {
			return nil, err
		}
		if len(r.ContainerResponses) != 1 {
			return nil, fmt.Errorf("%d container responses for 1 request", len(r.ContainerResponses))
		}
		return r.ContainerResponses[0].DeviceIDs, nil
	}
	checkSet := func(got, available, must []string, size int) error {
		if len(got) != size {
			return fmt.Errorf("got %d devices %v, want %d", len(got), got, size)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] || !slices.Contains(available, id) {
				return fmt.Errorf("%v repeats a device or names one not available", got)
			}
			seen[id] = true
		}
		for _, m := range must {
			if !seen[m] {
				return fmt.Errorf("%v lacks must-include %s", got, m)
			}
		}
		if fx.hasFullyConnected(positions(available), positions(must), size) && !fx.fullyConnected(positions(got)) {
			return fmt.Errorf("%v (GPUs %v) is not fully NVLink-connected, though such a set is available", got, positions(got))
		}
		return nil
	}
	size := min(4, len(all))
	var chosen []string
	c.check(fmt.Sprintf("GetPreferredAllocation of %d: a fully connected set", size), func() error {
		got, err := preferred(all, nil, size)
		if err != nil {
			return err
		}
		chosen = got
		fmt.Printf("     chose GPUs %v\n", positions(got))
		return checkSet(got, all, nil, size)
	}())
	if len(all) >= 8 {
		must := []string{all[5]}
		c.check("GetPreferredAllocation honours must_include", func() error {
			got, err := preferred(all, must, 4)
			if err != nil {
				return err
			}
			fmt.Printf("     with GPU 5 required chose GPUs %v\n", positions(got))
			return checkSet(got, all, must, 4)
		}())
		c.check("GetPreferredAllocation uses only available GPUs", func() error {
			got, err := preferred(all[1:], nil, 4)
			if err != nil {
				return err
			}
			fmt.Printf("     without GPU 0 chose GPUs %v\n", positions(got))
			return checkSet(got, all[1:], nil, 4)
		}())
	}
	c.check("GetPreferredAllocation answers each container request", func() error {
		r, err := client.api.GetPreferredAllocation(ctx, &pluginapi.PreferredAllocationRequest{
			ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{
				{AvailableDeviceIDs: all, AllocationSize: 1},
				{AvailableDeviceIDs: all, AllocationSize: int32(len(all))}}})
		if err != nil {
			return err
		}
		if len(r.ContainerResponses) != 2 || len(r.ContainerResponses[0].DeviceIDs) != 1 ||
			len(r.ContainerResponses[1].DeviceIDs) != len(all) {
			return fmt.Errorf("unexpected answer %v", r)
		}
		return nil
	}())

	// --- Allocate.
	allocate := func(ids ...string) (*pluginapi.AllocateResponse, error) {
		return client.api.Allocate(ctx, &pluginapi.AllocateRequest{
			ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: ids}}})
	}
	if len(chosen) == 0 {
		chosen = all[:1]
	}
	c.check("Allocate: NVIDIA/CUDA_VISIBLE_DEVICES and device nodes", func() error {
		r, err := allocate(chosen...)
		if err != nil {
			return err
		}
		if len(r.ContainerResponses) != 1 {
			return fmt.Errorf("%d container responses", len(r.ContainerResponses))
		}
		cr := r.ContainerResponses[0]
		for _, env := range []string{"NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"} {
			got := strings.Split(cr.Envs[env], ",")
			slices.Sort(got)
			want := slices.Clone(chosen)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s=%q, want the IDs %v", env, cr.Envs[env], want)
			}
		}
		paths := map[string]string{}
		for _, d := range cr.Devices {
			paths[d.HostPath] = d.ContainerPath
			if d.Permissions == "" {
				return fmt.Errorf("device %s has no permissions", d.HostPath)
			}
		}
		want := []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}
		for _, id := range chosen {
			want = append(want, fmt.Sprintf("/dev/nvidia%d", fx.GPUs[fx.position(id)].Index))
		}
		for _, p := range want {
			if paths[p] != p {
				return fmt.Errorf("no device spec %s (got %v)", p, paths)
			}
		}
		if len(cr.Devices) != len(want) {
			return fmt.Errorf("%d device specs, want %d: %v", len(cr.Devices), len(want), paths)
		}
		return nil
	}())
	refusedNaming := func(id string, err error) error {
		if err == nil {
			return fmt.Errorf("Allocate of %s succeeded", id)
		}
		if s, _ := status.FromError(err); !strings.Contains(s.Message(), id) {
			return fmt.Errorf("error %q does not name %s", s.Message(), id)
		}
		return nil
	}
	c.check("Allocate of an unknown ID is an error naming it", func() error {
		_, err := allocate(all[0], "GPU-00000000-dead-beef-0000-000000000000")
		return refusedNaming("GPU-00000000-dead-beef-0000-000000000000", err)
	}())
	c.check("PreStartContainer", func() error {
		_, err := client.api.PreStartContainer(ctx, &pluginapi.PreStartContainerRequest{DevicesIds: chosen})
		return err
	}())

	// --- Health flip through the health file.
	if cfg.healthFile != "" {
		victim := all[len(all)-1]
		write := func(text string) error {
			tmp := cfg.healthFile + ".tmp"
			if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
				return err
			}
			return os.Rename(tmp, cfg.healthFile)
		}
		c.check(fmt.Sprintf("health flip: Unhealthy in ListAndWatch within %v", cfg.healthDeadline), func() error {
			if err := write(victim + " XID 79 (conformance test)\n"); err != nil {
				return err
			}
			took, r, err := w.next(cfg.healthDeadline, func(r *pluginapi.ListAndWatchResponse) bool {
				return healthOf(r, victim) == pluginapi.Unhealthy
			})
			if err != nil {
				return err
			}
			fmt.Printf("     seen after %v\n", took.Round(time.Millisecond))
			for _, d := range r.Devices {
				if d.ID != victim && d.Health != pluginapi.Healthy {
					return fmt.Errorf("device %s also went %s", d.ID, d.Health)
				}
			}
			return nil
		}())
		c.check("Allocate of an Unhealthy ID is an error naming it", func() error {
			_, err := allocate(victim)
			return refusedNaming(victim, err)
		}())
		c.check(fmt.Sprintf("health flip back: Healthy within %v", cfg.healthDeadline), func() error {
			if err := os.Remove(cfg.healthFile); err != nil {
				return err
			}
			took, _, err := w.next(cfg.healthDeadline, func(r *pluginapi.ListAndWatchResponse) bool {
				return healthOf(r, victim) == pluginapi.Healthy
			})
			if err == nil {
				fmt.Printf("     seen after %v\n", took.Round(time.Millisecond))
			}
			return err
		}())
	}

	// --- RDMA resource, when the fixture has RDMA NICs.
	if nics := fx.rdmaNICs(); len(nics) > 0 && cfg.rdmaResource != "" {
		c.check("RDMA NICs registered as "+cfg.rdmaResource, func() error {
			r, err := kubelet.waitRegister(cfg.rdmaResource, 10*time.Second)
			if err != nil {
				return err
			}
			rc, err := dialPlugin(cfg.dir, r.Endpoint)
			if err != nil {
				return err
			}
			defer rc.close()
			rw, err := watch(rc)
			if err != nil {
				return err
			}
			defer rw.cancel()
			_, l, err := rw.next(5*time.Second, func(*pluginapi.ListAndWatchResponse) bool { return true })
			if err != nil {
				return err
			}
			if len(l.Devices) != len(nics) {
				return fmt.Errorf("%d RDMA devices, fixture has %d", len(l.Devices), len(nics))
			}
			a, err := rc.api.Allocate(ctx, &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{{DevicesIds: []string{nics[0].Name}}}})
			if err != nil {
				return err
			}
			if a.ContainerResponses[0].Envs["NCCL_IB_HCA"] != nics[0].Name {
				return fmt.Errorf("NCCL_IB_HCA=%q", a.ContainerResponses[0].Envs["NCCL_IB_HCA"])
			}
			return nil
		}())
	}

	// --- The admin endpoint: ready once registered, and the counts.
	if cfg.metricsURL != "" {
		c.check("/healthz and /readyz answer 200 once registered", func() error {
			for _, path := range []string{"/healthz", "/readyz"} {
				if code, body, err := httpGet(cfg.metricsURL + path); err != nil || code != 200 {
					return fmt.Errorf("%s: %d %q %v", path, code, body, err)
				}
			}
			return nil
		}())
		c.check("/metrics: devices, healthy devices, allocations, allocation latency", func() error {
			n := fmt.Sprint(len(all))
			want := map[string]func(float64) bool{
				`zenith_deviceplugin_devices{resource="` + cfg.resource + `"}`:                 func(v float64) bool { return fmt.Sprint(v) == n },
				`zenith_deviceplugin_healthy_devices{resource="` + cfg.resource + `"}`:         func(v float64) bool { return fmt.Sprint(v) == n },
				`zenith_deviceplugin_allocations_total{resource="` + cfg.resource + `"}`:       func(v float64) bool { return v >= 1 },
				`zenith_deviceplugin_allocation_errors_total{resource="` + cfg.resource + `"}`: func(v float64) bool { return v >= 1 },
				`zenith_deviceplugin_allocate_seconds_count{resource="` + cfg.resource + `"}`:  func(v float64) bool { return v >= 1 },
				`zenith_deviceplugin_registered{resource="` + cfg.resource + `"}`:              func(v float64) bool { return v == 1 },
			}
			var last error
			for try := 0; try < 30; try++ { // gauges follow health within one watch interval
				last = nil
				_, body, err := httpGet(cfg.metricsURL + "/metrics")
				if err != nil {
					return err
				}
				for series, ok := range want {
					v, found := sample(body, series)
					if !found || !ok(v) {
						last = fmt.Errorf("%s = %v (found %v)", series, v, found)
						break
					}
				}
				if last == nil {
					return nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			return last
		}())
	}

	// --- Kubelet restart: kubelet.sock is recreated; the plugin must register again.
	kubelet.drain()
	c.check("kubelet restart: serve a new kubelet.sock", kubelet.restart())
	reg2, err := kubelet.waitRegister(cfg.resource, 10*time.Second)
	c.check("kubelet restart: plugin registers again", err)
	if err == nil {
		c.check("after re-registration ListAndWatch answers", listsDevices(cfg.dir, reg2.Endpoint, len(all)))
	}

	// --- The plugin's own socket removed: it must serve again and register again.
	kubelet.drain()
	c.check("plugin socket removed", os.Remove(filepath.Join(cfg.dir, reg.Endpoint)))
	reg3, err := kubelet.waitRegister(cfg.resource, 10*time.Second)
	c.check("plugin socket removed: plugin serves and registers again", err)
	if err == nil {
		c.check("after serving again ListAndWatch answers", listsDevices(cfg.dir, reg3.Endpoint, len(all)))
	}

	// --- Clean shutdown.
	w.cancel()
	client.close()
	c.check("SIGTERM: plugin exits 0 and removes its socket", func() error {
		code, err := plugin.terminate(10 * time.Second)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exit code %d", code)
		}
		if _, err := os.Stat(filepath.Join(cfg.dir, reg.Endpoint)); err == nil {
			return fmt.Errorf("socket %s still there", reg.Endpoint)
		}
		return nil
	}())

	if c.failures > 0 {
		fmt.Printf("conformance: %d check(s) FAILED\n", c.failures)
		return 1
	}
	fmt.Println("conformance: all checks passed")
	return 0
}

func httpGet(url string) (int, string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	r, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	return r.StatusCode, string(body), err
}

// sample finds one series' value in Prometheus text.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// listsDevices dials a fresh connection and expects a full device list.
func listsDevices(dir, endpoint string, n int) error {
	c, err := dialPlugin(dir, endpoint)
	if err != nil {
		return err
	}
	defer c.close()
	w, err := watch(c)
	if err != nil {
		return err
	}
	defer w.cancel()
	_, r, err := w.next(5*time.Second, func(*pluginapi.ListAndWatchResponse) bool { return true })
	if err != nil {
		return err
	}
	if len(r.Devices) != n {
		return fmt.Errorf("%d devices, want %d", len(r.Devices), n)
	}
	return nil
}
