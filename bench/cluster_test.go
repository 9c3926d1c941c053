package main

import "testing"

func TestViaSpreadsEachGroupOverTheNodes(t *testing.T) {
	const nodes, groups, perGroup = 3, 10, 40
	hosts := make([]int, nodes)
	for g := range groups {
		seen := make([]int, nodes)
		for pos := range perGroup {
			seen[via(g, pos, nodes)]++
		}
		hosts[via(g, 0, nodes)]++
		for n, c := range seen {
			if c < perGroup/nodes {
				t.Fatalf("group %d has %d editors on node %d: %v", g, c, n, seen)
			}
		}
	}
	for n, c := range hosts {
		if c < groups/nodes {
			t.Fatalf("node %d hosts %d groups: %v", n, c, hosts)
		}
	}
	if got := via(7, 39, 1); got != 0 {
		t.Fatalf("one node: via = %d", got)
	}
}

func TestTargets(t *testing.T) {
	eps, pids, err := targets("http://127.0.0.1:1/graphql, http://127.0.0.1:2/graphql,http://[::1]:3")
	if err != nil || len(eps) != 3 || len(pids) != 3 || eps[1].host != "127.0.0.1:2" || eps[2].graphql != "http://[::1]:3/graphql" {
		t.Fatalf("targets = %+v, %v, %v", eps, pids, err)
	}
	if _, _, err := targets("http://127.0.0.1:1/graphql,http://10.0.0.1:2/graphql"); err == nil {
		t.Fatal("a non-loopback node was accepted")
	}
}
