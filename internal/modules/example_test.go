package modules_test

import (
	"fmt"

	"github.com/backhaul/backhaul/internal/modules"
)

func ExampleManager_Resolve() {
	m := modules.New(nil)
	m.Register("store", nil)
	m.Register("bus", nil, modules.DependsOn("store"))
	m.Register("load-service", nil, modules.DependsOn("store", "bus"), modules.Public())
	m.Register("api-gateway", nil, modules.DependsOn("bus"), modules.Public())

	fmt.Println(m.Targets())
	fmt.Println(m.Resolve([]string{"load-service"}))
	fmt.Println(m.Resolve([]string{"all"}))
	_, err := m.Resolve([]string{"store"})
	fmt.Println(err)
	// Output:
	// [api-gateway load-service]
	// [store bus load-service] <nil>
	// [store bus api-gateway load-service] <nil>
	// invalid target: "store" is an internal module (valid targets: all, api-gateway, load-service)
}
