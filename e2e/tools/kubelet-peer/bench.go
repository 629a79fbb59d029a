package main

// The latency benchmark: starts a plugin, waits for it to register, then times unary calls
// over its unix socket from this process, one at a time, as the kubelet makes them.

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

func percentile(sorted []time.Duration, p float64) float64 {
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

func runBench(dir, fixturePath, resource string, iters int, metric, metricsURL string, plugin []string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fx, err := loadFixture(fixturePath)
	if err != nil {
		return fail(err)
	}
	kubelet := newFakeKubelet(dir)
	if err := kubelet.start(); err != nil {
		return fail(err)
	}
	defer kubelet.stop()
	p, err := startPlugin(plugin, io.Discard)
	if err != nil {
		return fail(err)
	}
	defer p.kill()
	reg, err := kubelet.waitRegister(resource, 15*time.Second)
	if err != nil {
		return fail(err)
	}
	c, err := dialPlugin(dir, reg.Endpoint)
	if err != nil {
		return fail(err)
	}
	defer c.close()
	var all []string
	for _, g := range fx.GPUs {
		all = append(all, g.UUID)
	}
	size := min(4, len(all))
	ctx := context.Background()
	prefReq := &pluginapi.PreferredAllocationRequest{ContainerRequests: []*pluginapi.ContainerPreferredAllocationRequest{
		{AvailableDeviceIDs: all, AllocationSize: int32(size)}}}
	allocReq := &pluginapi.AllocateRequest{ContainerRequests: []*pluginapi.ContainerAllocateRequest{
		{DevicesIds: all[:size]}}}
	time1 := func(call func() error) ([]time.Duration, error) {
		for i := 0; i < iters/10+10; i++ { // warm-up: connection, caches
			if err := call(); err != nil {
				return nil, err
			}
		}
		out := make([]time.Duration, 0, iters)
		for i := 0; i < iters; i++ {
			start := time.Now()
			if err := call(); err != nil {
				return nil, err
			}
			out = append(out, time.Since(start))
		}
		slices.Sort(out)
		return out, nil
	}
	pref, err := time1(func() error {
		r, err := c.api.GetPreferredAllocation(ctx, prefReq)
		if err == nil && len(r.ContainerResponses[0].DeviceIDs) != size {
			err = fmt.Errorf("preferred %v", r)
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	alloc, err := time1(func() error {
		_, err := c.api.Allocate(ctx, allocReq)
		return err
	})
	if err != nil {
		return fail(err)
	}
	values := map[string]float64{
		"preferred_p50": percentile(pref, 0.50), "preferred_p99": percentile(pref, 0.99),
		"allocate_p50": percentile(alloc, 0.50), "allocate_p99": percentile(alloc, 0.99),
	}
	for _, k := range []string{"preferred_p50", "preferred_p99", "allocate_p50", "allocate_p99"} {
		fmt.Printf("%s_us %.1f\n", k, values[k])
	}
	if metricsURL != "" {
		// The plugin's own view: time inside its handlers, without the transport.
		if _, body, err := httpGet(metricsURL + "/metrics"); err == nil {
			for _, h := range []string{"preferred_allocation", "allocate"} {
				series := "zenith_deviceplugin_" + h + "_seconds"
				label := `{resource="` + resource + `"}`
				sum, ok1 := sample(body, series+"_sum"+label)
				count, ok2 := sample(body, series+"_count"+label)
				if ok1 && ok2 && count > 0 {
					fmt.Printf("server_%s_mean_us %.1f\n", h, sum/count*1e6)
				}
			}
		}
	}
	v, ok := values[metric]
	if !ok {
		return fail(fmt.Errorf("unknown metric %q", metric))
	}
	_, _ = p.terminate(5 * time.Second)
	fmt.Printf("%.2f\n", v)
	return 0
}
