package main

// The kubelet's half of registration: a Registration server on <dir>/kubelet.sock that records
// every Register call, and a client for a plugin's DevicePlugin socket.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pluginapi "k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1"
)

type fakeKubelet struct {
	pluginapi.UnimplementedRegistrationServer
	dir      string
	mu       sync.Mutex
	server   *grpc.Server
	requests chan *pluginapi.RegisterRequest
}

func newFakeKubelet(dir string) *fakeKubelet {
	return &fakeKubelet{dir: dir, requests: make(chan *pluginapi.RegisterRequest, 64)}
}

func (k *fakeKubelet) socket() string { return filepath.Join(k.dir, "kubelet.sock") }

func (k *fakeKubelet) Register(ctx context.Context, r *pluginapi.RegisterRequest) (*pluginapi.Empty, error) {
	k.requests <- r
	return &pluginapi.Empty{}, nil
}

// start serves Registration on a fresh kubelet.sock.
func (k *fakeKubelet) start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	_ = os.Remove(k.socket())
	l, err := net.Listen("unix", k.socket())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", k.socket(), err)
	}
	k.server = grpc.NewServer()
	pluginapi.RegisterRegistrationServer(k.server, k)
	go func() { _ = k.server.Serve(l) }()
	return nil
}

func (k *fakeKubelet) stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.server != nil {
		k.server.Stop()
		k.server = nil
	}
	_ = os.Remove(k.socket())
}

// restart plays a kubelet restart: the socket goes away and a new one (a new inode) appears.
func (k *fakeKubelet) restart() error {
	k.stop()
	time.Sleep(50 * time.Millisecond)
	return k.start()
}

// waitRegister returns the next Register call for `resource`, skipping others.
func (k *fakeKubelet) waitRegister(resource string, timeout time.Duration) (*pluginapi.RegisterRequest, error) {
	deadline := time.After(timeout)
	for {
		select {
		case r := <-k.requests:
			if r.ResourceName == resource {
				return r, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("no Register for %s within %v", resource, timeout)
		}
	}
}

// drain forgets Register calls received so far.
func (k *fakeKubelet) drain() {
	for {
		select {
		case <-k.requests:
		default:
			return
		}
	}
}

type pluginClient struct {
	conn *grpc.ClientConn
	api  pluginapi.DevicePluginClient
}

func dialPlugin(dir, endpoint string) (*pluginClient, error) {
	conn, err := grpc.NewClient("unix:"+filepath.Join(dir, endpoint),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &pluginClient{conn: conn, api: pluginapi.NewDevicePluginClient(conn)}, nil
}

func (c *pluginClient) close() { _ = c.conn.Close() }
