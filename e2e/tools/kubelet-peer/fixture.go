package main

// The machine fixtures of examples/topologies/, read independently of Zenith's C++ parser so
// the peer checks the plugin's answers against the source description, not against itself.

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type fixtureGPU struct {
	Index    int    `json:"index"`
	UUID     string `json:"uuid"`
	NumaNode *int   `json:"numa_node"`
}

type fixtureNIC struct {
	Name     string `json:"name"`
	NumaNode *int   `json:"numa_node"`
	RDMA     bool   `json:"rdma"`
}

type fixture struct {
	GPUs   []fixtureGPU `json:"gpus"`
	NVLink [][]int      `json:"nvlink"`
	NICs   []fixtureNIC `json:"nics"`
}

func loadFixture(path string) (*fixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f fixture
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	if len(f.GPUs) == 0 {
		return nil, fmt.Errorf("fixture %s: no gpus", path)
	}
	return &f, nil
}

// position of the GPU with this UUID in f.GPUs, or -1.
func (f *fixture) position(uuid string) int {
	for i, g := range f.GPUs {
		if g.UUID == uuid {
			return i
		}
	}
	return -1
}

func (f *fixture) linked(a, b int) bool {
	return len(f.NVLink) > a && len(f.NVLink[a]) > b && f.NVLink[a][b] > 0
}

// fullyConnected says whether every pair of the GPUs (by position) has an NVLink.
func (f *fixture) fullyConnected(positions []int) bool {
	for i := range positions {
		for j := i + 1; j < len(positions); j++ {
			if !f.linked(positions[i], positions[j]) {
				return false
			}
		}
	}
	return true
}

// hasFullyConnected says whether some size-k subset of `available` that contains `must` is
// fully connected (brute force: fixtures have at most 8 GPUs).
func (f *fixture) hasFullyConnected(available, must []int, k int) bool {
	var rec func(start int, chosen []int) bool
	rec = func(start int, chosen []int) bool {
		if len(chosen) == k {
			for _, m := range must {
				found := false
				for _, c := range chosen {
					found = found || c == m
				}
				if !found {
					return false
				}
			}
			return f.fullyConnected(chosen)
		}
		for i := start; i < len(available); i++ {
			if rec(i+1, append(append([]int{}, chosen...), available[i])) {
				return true
			}
		}
		return false
	}
	return rec(0, nil)
}

func (f *fixture) rdmaNICs() []fixtureNIC {
	var out []fixtureNIC
	for _, n := range f.NICs {
		if n.RDMA {
			out = append(out, n)
		}
	}
	return out
}
