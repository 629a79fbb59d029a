package main

// A minimal device plugin written with the same upstream package, answering the same calls with
// the least work that still gives a valid answer: the floor of what the gRPC transport costs,
// the peer Zenith's latency is compared with. Preferred = must_include then the first available;
// Allocate = the env vars and device nodes, from a precomputed UUID → index map.

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type floorPlugin struct {
	pluginapi.UnimplementedDevicePluginServer
	fx    *fixture
	index map[string]int
}

func (f *floorPlugin) GetDevicePluginOptions(context.Context, *pluginapi.Empty) (*pluginapi.DevicePluginOptions, error) {
	return &pluginapi.DevicePluginOptions{GetPreferredAllocationAvailable: true}, nil
}

func (f *floorPlugin) ListAndWatch(_ *pluginapi.Empty, s pluginapi.DevicePlugin_ListAndWatchServer) error {
	r := &pluginapi.ListAndWatchResponse{}
	for _, g := range f.fx.GPUs {
		r.Devices = append(r.Devices, &pluginapi.Device{ID: g.UUID, Health: pluginapi.Healthy})
	}
	if err := s.Send(r); err != nil {
		return err
	}
	<-s.Context().Done()
	return nil
}

func (f *floorPlugin) GetPreferredAllocation(_ context.Context, r *pluginapi.PreferredAllocationRequest) (*pluginapi.PreferredAllocationResponse, error) {
	out := &pluginapi.PreferredAllocationResponse{}
	for _, c := range r.ContainerRequests {
		ids := append([]string{}, c.MustIncludeDeviceIDs...)
		for _, id := range c.AvailableDeviceIDs {
			if len(ids) >= int(c.AllocationSize) {
				break
			}
			dup := false
			for _, m := range c.MustIncludeDeviceIDs {
				dup = dup || m == id
			}
			if !dup {
				ids = append(ids, id)
			}
		}
		out.ContainerResponses = append(out.ContainerResponses, &pluginapi.ContainerPreferredAllocationResponse{DeviceIDs: ids})
	}
	return out, nil
}

func (f *floorPlugin) Allocate(_ context.Context, r *pluginapi.AllocateRequest) (*pluginapi.AllocateResponse, error) {
	out := &pluginapi.AllocateResponse{}
	for _, c := range r.ContainerRequests {
		cr := &pluginapi.ContainerAllocateResponse{Envs: map[string]string{}}
		for _, id := range c.DevicesIds {
			i, ok := f.index[id]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "unknown device %s", id)
			}
			p := fmt.Sprintf("/dev/nvidia%d", i)
			cr.Devices = append(cr.Devices, &pluginapi.DeviceSpec{ContainerPath: p, HostPath: p, Permissions: "rw"})
		}
		v := strings.Join(c.DevicesIds, ",")
		cr.Envs["NVIDIA_VISIBLE_DEVICES"] = v
		cr.Envs["CUDA_VISIBLE_DEVICES"] = v
		for _, p := range []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} {
			cr.Devices = append(cr.Devices, &pluginapi.DeviceSpec{ContainerPath: p, HostPath: p, Permissions: "rw"})
		}
		out.ContainerResponses = append(out.ContainerResponses, cr)
	}
	return out, nil
}

func (f *floorPlugin) PreStartContainer(context.Context, *pluginapi.PreStartContainerRequest) (*pluginapi.PreStartContainerResponse, error) {
	return &pluginapi.PreStartContainerResponse{}, nil
}

func runFloorPlugin(dir, fixturePath, socket, resource string) int {
	fx, err := loadFixture(fixturePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-plugin:", err)
		return 1
	}
	f := &floorPlugin{fx: fx, index: map[string]int{}}
	for _, g := range fx.GPUs {
		f.index[g.UUID] = g.Index
	}
	path := filepath.Join(dir, socket)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-plugin:", err)
		return 1
	}
	server := grpc.NewServer()
	pluginapi.RegisterDevicePluginServer(server, f)
	go func() { _ = server.Serve(l) }()
	conn, err := grpc.NewClient("unix:"+filepath.Join(dir, "kubelet.sock"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-plugin:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = pluginapi.NewRegistrationClient(conn).Register(ctx, &pluginapi.RegisterRequest{
		Version: pluginapi.Version, Endpoint: socket, ResourceName: resource,
		Options: &pluginapi.DevicePluginOptions{GetPreferredAllocationAvailable: true}})
	cancel()
	_ = conn.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor-plugin: Register:", err)
		return 1
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	server.Stop()
	_ = os.Remove(path)
	return 0
}
