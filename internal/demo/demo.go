// Package demo fills an empty store with a believable freight network:
// shippers in real US cities, carriers with drivers and trucks at their home
// bases, open loads on realistic lanes and a few loads already moving. It is
// what a first-time user of `backhaul serve --demo` sees. It goes through
// the services, as a client would, so every row is valid and every change
// publishes its event.
package demo

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/backhaul/backhaul/internal/accounts"
	"github.com/backhaul/backhaul/internal/drivers"
	"github.com/backhaul/backhaul/internal/freight"
	"github.com/backhaul/backhaul/internal/geo"
	"github.com/backhaul/backhaul/internal/geocode"
	"github.com/backhaul/backhaul/internal/loads"
	"github.com/backhaul/backhaul/internal/store"
)

// Password signs in every demo user.
const Password = "backhaul-demo"

// Services are the services the demo data goes through.
type Services struct {
	Accounts *accounts.Service
	Drivers  *drivers.Service
	Loads    *loads.Service
}

// Options shape the demo network.
type Options struct {
	Seed      uint64    // the same seed gives the same network
	OpenLoads int       // default 120
	History   int       // past bookings for the market model; default 4,000
	Now       time.Time // default the store's clock
}

// market is a freight market: a city and how much freight leaves it
// (outbound) and arrives (inbound), relative to its size.
type market struct {
	city, state       string
	weight            float64 // freight volume
	outbound, inbound float64 // headhaul/backhaul imbalance
	p                 geocode.Place
}

// markets are major US freight markets. Outbound-heavy markets (ports,
// manufacturing) pay more to leave; consumer-heavy ones pay less.
var markets = []market{
	{city: "Los Angeles", state: "CA", weight: 10, outbound: 1.4, inbound: 1.0},
	{city: "Chicago", state: "IL", weight: 9, outbound: 1.2, inbound: 1.1},
	{city: "Dallas", state: "TX", weight: 8, outbound: 1.1, inbound: 1.1},
	{city: "Atlanta", state: "GA", weight: 7, outbound: 1.1, inbound: 1.1},
	{city: "Houston", state: "TX", weight: 7, outbound: 1.2, inbound: 1.0},
	{city: "Memphis", state: "TN", weight: 5, outbound: 1.2, inbound: 1.0},
	{city: "Columbus", state: "OH", weight: 5, outbound: 1.1, inbound: 1.0},
	{city: "Indianapolis", state: "IN", weight: 4, outbound: 1.1, inbound: 1.0},
	{city: "Kansas City", state: "MO", weight: 4, outbound: 1.0, inbound: 1.0},
	{city: "Denver", state: "CO", weight: 3, outbound: 0.7, inbound: 1.3},
	{city: "Phoenix", state: "AZ", weight: 4, outbound: 0.8, inbound: 1.2},
	{city: "Seattle", state: "WA", weight: 4, outbound: 1.0, inbound: 1.1},
	{city: "Miami", state: "FL", weight: 4, outbound: 0.6, inbound: 1.4},
	{city: "Charlotte", state: "NC", weight: 4, outbound: 1.0, inbound: 1.0},
	{city: "Nashville", state: "TN", weight: 3, outbound: 1.0, inbound: 1.0},
	{city: "Newark", state: "NJ", weight: 6, outbound: 1.2, inbound: 1.1},
	{city: "Philadelphia", state: "PA", weight: 4, outbound: 1.0, inbound: 1.1},
	{city: "Salt Lake City", state: "UT", weight: 2, outbound: 0.9, inbound: 1.0},
	{city: "Minneapolis", state: "MN", weight: 3, outbound: 1.0, inbound: 1.0},
	{city: "Fresno", state: "CA", weight: 3, outbound: 1.3, inbound: 0.7},
	{city: "Laredo", state: "TX", weight: 4, outbound: 1.4, inbound: 0.8},
	{city: "Savannah", state: "GA", weight: 3, outbound: 1.3, inbound: 0.9},
	{city: "St. Louis", state: "MO", weight: 3, outbound: 1.0, inbound: 1.0},
	{city: "Detroit", state: "MI", weight: 3, outbound: 1.1, inbound: 0.9},
}

// commodities by equipment.
var commodities = map[freight.Equipment][]string{
	freight.Van:     {"Consumer electronics", "Paper products", "Packaged foods", "Auto parts", "Furniture", "Beverages"},
	freight.Reefer:  {"Fresh produce", "Frozen foods", "Dairy", "Meat", "Pharmaceuticals"},
	freight.Flatbed: {"Steel coils", "Lumber", "Machinery", "Building materials", "Pipe"},
}

// baseRPM is a typical all-in rate per mile by equipment.
var baseRPM = map[freight.Equipment]float64{freight.Van: 2.35, freight.Reefer: 2.75, freight.Flatbed: 2.95}

type orgSpec struct {
	name  string
	kind  freight.OrgKind
	email string
	home  string // market city for carriers
	usdot string
	mc    string
	users []userSpec
}

type userSpec struct {
	name, email string
	role        freight.Role
}

var orgs = []orgSpec{
	{name: "Acme Foods", kind: freight.OrgShipper, email: "admin@acme-foods.example", users: []userSpec{{"Dana Shipper", "shipper@acme-foods.example", freight.RoleShipper}}},
	{name: "Lone Star Steel", kind: freight.OrgShipper, email: "admin@lonestar-steel.example", users: []userSpec{{"Sam Logistics", "shipper@lonestar-steel.example", freight.RoleShipper}}},
	{name: "Pacific Imports", kind: freight.OrgShipper, email: "admin@pacific-imports.example"},
	{name: "Heartland Freight Brokers", kind: freight.OrgBroker, email: "admin@heartland-brokers.example", usdot: "3021188", mc: "912233"},
	{name: "Blue Ridge Transport", kind: freight.OrgCarrier, email: "admin@blueridge.example", home: "Atlanta", usdot: "2288345", mc: "781234",
		users: []userSpec{{"Riley Dispatch", "dispatch@blueridge.example", freight.RoleDispatcher}}},
	{name: "Prairie Haulers", kind: freight.OrgCarrier, email: "admin@prairie-haulers.example", home: "Kansas City", usdot: "1938472", mc: "665102",
		users: []userSpec{{"Morgan Dispatch", "dispatch@prairie-haulers.example", freight.RoleDispatcher}}},
	{name: "Coastline Carriers", kind: freight.OrgCarrier, email: "admin@coastline.example", home: "Los Angeles", usdot: "3377120", mc: "998877",
		users: []userSpec{{"Jordan Dispatch", "dispatch@coastline.example", freight.RoleDispatcher}}},
}

var driverNames = []string{"Alex Rivera", "Bailey Chen", "Casey Brooks", "Drew Patel", "Emerson Cole", "Finley Reyes",
	"Gray Morgan", "Harper Diaz", "Indy Shaw", "Jamie Ortiz", "Kai Bennett", "Logan Price", "Micah Ward", "Noel Hayes",
	"Oakley Ross", "Parker Lane", "Quinn Foster", "Reese Kim", "Skyler Grant", "Taylor Woods", "Vic Sutton"}

// Seed loads the demo network into an empty store and reports whether it
// did; a store with any organization is left alone.
func Seed(ctx context.Context, db *store.DB, svc Services, opt Options, log *slog.Logger) (bool, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil {
		return false, fmt.Errorf("count organizations: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if opt.OpenLoads == 0 {
		opt.OpenLoads = 120
	}
	if opt.History == 0 {
		opt.History = 4000
	}
	if opt.Now.IsZero() {
		opt.Now = db.Now()
	}
	g := geocode.Default()
	for i := range markets {
		p, ok := g.City(markets[i].city, markets[i].state)
		if !ok {
			return false, fmt.Errorf("demo market %s, %s not in the geocoder", markets[i].city, markets[i].state)
		}
		markets[i].p = p
	}
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	s := seeder{db: db, svc: svc, rng: rng, now: opt.Now, log: log}
	if err := s.platform(ctx); err != nil {
		return false, err
	}
	for _, o := range orgs {
		if err := s.org(ctx, o); err != nil {
			return false, fmt.Errorf("demo organization %s: %w", o.name, err)
		}
	}
	for range opt.OpenLoads {
		if _, err := s.load(ctx); err != nil {
			return false, err
		}
	}
	if err := s.moving(ctx); err != nil {
		return false, err
	}
	if err := s.history(ctx, opt.History); err != nil {
		return false, err
	}
	log.Info("demo network ready", "organizations", len(orgs)+1, "drivers", len(s.drivers), "open_loads", opt.OpenLoads)
	return true, nil
}

type seeder struct {
	db      *store.DB
	svc     Services
	rng     *rand.Rand
	now     time.Time
	log     *slog.Logger
	posters []freight.Principal
	haulers []freight.Principal
	drivers []freight.Driver
}

// platform creates the marketplace operator, which sign-up cannot.
func (s *seeder) platform(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		org := freight.Organization{ID: "00000000-0000-7000-8000-000000000001", Name: "Backhaul Operations", Kind: freight.OrgPlatform, CreatedAt: tx.Now()}
		if err := accounts.InsertOrg(ctx, tx, org); err != nil {
			return err
		}
		u := freight.User{ID: "00000000-0000-7000-8000-000000000002", OrgID: org.ID, Email: "ops@backhaul.example", Name: "Operations Desk",
			Role: freight.RoleOperator, CreatedAt: tx.Now()}
		return accounts.CreateUserWithPassword(ctx, tx, u, Password)
	})
}

func (s *seeder) org(ctx context.Context, o orgSpec) error {
	sess, err := s.svc.Accounts.Signup(ctx, accounts.SignupInput{OrgName: o.name, OrgKind: o.kind, USDOT: o.usdot, MC: o.mc,
		Name: o.name + " Admin", Email: o.email, Password: Password})
	if err != nil {
		return err
	}
	admin := freight.Principal{OrgID: sess.Org.ID, OrgKind: o.kind, UserID: sess.User.ID, Role: freight.RoleAdmin}
	for _, u := range o.users {
		if _, err := s.svc.Accounts.CreateUser(ctx, admin, accounts.UserInput{Email: u.email, Name: u.name, Role: u.role, Password: Password}); err != nil {
			return err
		}
	}
	if o.kind.PostsLoads() {
		s.posters = append(s.posters, admin)
	}
	if o.kind != freight.OrgCarrier {
		return nil
	}
	s.haulers = append(s.haulers, admin)
	home := s.market(o.home)
	eqs := []freight.Equipment{freight.Van, freight.Van, freight.Reefer, freight.Flatbed}
	for i := range 7 {
		eq := eqs[s.rng.IntN(len(eqs))]
		tr, err := s.svc.Drivers.CreateTruck(ctx, admin, freight.TruckInput{Unit: fmt.Sprintf("%s-%03d", initials(o.name), 100+i),
			Equipment: eq, CapacityLbs: 45000})
		if err != nil {
			return err
		}
		// Drivers live around the carrier's home market and a few further out.
		base := home
		if i%3 == 2 {
			base = s.pick(func(m market) float64 { return m.weight })
		}
		p := geo.Destination(base.p.Point, s.rng.Float64()*360, s.rng.Float64()*40)
		name := driverNames[(len(s.drivers)+i)%len(driverNames)]
		d, err := s.svc.Drivers.CreateDriver(ctx, admin, freight.DriverInput{Name: name, Phone: fmt.Sprintf("+1555%07d", s.rng.IntN(10_000_000)),
			HomeBase:  freight.Location{City: base.p.City, State: base.p.State, Lat: round5(p.Lat), Lon: round5(p.Lon)},
			Equipment: eq, CapacityLbs: 45000, TruckID: tr.ID})
		if err != nil {
			return err
		}
		s.drivers = append(s.drivers, d)
		if i == 0 {
			email := "driver@" + strings.TrimPrefix(o.email, "admin@")
			if _, err := s.svc.Accounts.CreateUser(ctx, admin, accounts.UserInput{Email: email, Name: name, Role: freight.RoleDriver,
				Password: Password, DriverID: d.ID}); err != nil {
				return err
			}
		}
	}
	return nil
}

func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		b.WriteByte(w[0])
	}
	return b.String()
}

func round5(x float64) float64 { return math.Round(x*1e5) / 1e5 }

func (s *seeder) market(city string) market {
	for _, m := range markets {
		if m.city == city {
			return m
		}
	}
	return markets[0]
}

// pick draws a market with probability proportional to w.
func (s *seeder) pick(w func(market) float64) market {
	total := 0.0
	for _, m := range markets {
		total += w(m)
	}
	x := s.rng.Float64() * total
	for _, m := range markets {
		if x -= w(m); x <= 0 {
			return m
		}
	}
	return markets[len(markets)-1]
}

// lane draws a lane by gravity: big outbound markets send to big inbound
// markets, with distance decay.
func (s *seeder) lane() (origin, dest market) {
	origin = s.pick(func(m market) float64 { return m.weight * m.outbound })
	for {
		dest = s.pick(func(m market) float64 {
			miles := geo.GreatCircleMiles(origin.p.Point, m.p.Point)
			if miles < 120 {
				return 0
			}
			return m.weight * m.inbound / math.Pow(miles/400, 1.1)
		})
		if dest.city != origin.city {
			return origin, dest
		}
	}
}

// load posts one load on a lane drawn by gravity.
func (s *seeder) load(ctx context.Context) (freight.Load, error) {
	origin, dest := s.lane()
	eq := s.equipment()
	o, d := s.facility(origin), s.facility(dest)
	miles := geo.DefaultCircuity.RoadMiles(geo.Point{Lat: o.Lat, Lon: o.Lon}, geo.Point{Lat: d.Lat, Lon: d.Lon})
	pickup := s.now.Truncate(time.Hour).Add(time.Duration(12+s.rng.IntN(24*5)) * time.Hour)
	transit := time.Duration(miles/45*float64(time.Hour)) + 10*time.Hour*time.Duration(int(miles/550))
	rate := freight.FromDollars(math.Round(s.rate(eq, origin, dest, miles)/5) * 5)
	shipper := s.posters[s.rng.IntN(len(s.posters))]
	in := freight.LoadInput{
		Reference: fmt.Sprintf("PO-%06d", s.rng.IntN(1_000_000)),
		Origin:    o, Destination: d,
		Pickup:    freight.Window{Start: pickup, End: pickup.Add(4 * time.Hour)},
		Delivery:  freight.Window{Start: pickup.Add(transit), End: pickup.Add(transit + 8*time.Hour)},
		Equipment: eq, WeightLbs: 8000 + s.rng.IntN(36)*1000, Commodity: commodities[eq][s.rng.IntN(len(commodities[eq]))],
		Rate: &rate, Post: true,
	}
	return s.svc.Loads.Create(ctx, shipper, in)
}

// facility is a shipping or receiving site within 30 miles of a market's
// centre, addressed by its nearest ZIP code.
func (s *seeder) facility(m market) freight.Location {
	p := geo.Destination(m.p.Point, s.rng.Float64()*360, 30*math.Sqrt(s.rng.Float64()))
	loc := freight.Location{City: m.p.City, State: m.p.State, ZIP: m.p.ZIP, Lat: round5(p.Lat), Lon: round5(p.Lon)}
	if z, ok := geocode.Default().Nearest(p); ok {
		loc.City, loc.State, loc.ZIP = z.City, z.State, z.ZIP
	}
	return loc
}

// moving books a few loads and moves them along, so every status shows up.
func (s *seeder) moving(ctx context.Context) error {
	steps := [][]freight.LoadStatus{
		nil,
		{freight.StatusDispatched},
		{freight.StatusDispatched, freight.StatusAtPickup, freight.StatusInTransit},
		{freight.StatusDispatched, freight.StatusAtPickup, freight.StatusInTransit, freight.StatusAtDelivery, freight.StatusDelivered},
	}
	for i, path := range steps {
		l, err := s.load(ctx)
		if err != nil {
			return err
		}
		carrier := s.haulers[i%len(s.haulers)]
		var driver *freight.Driver
		for j := range s.drivers {
			d := &s.drivers[j]
			if d.CarrierID == carrier.OrgID && d.Equipment == l.Equipment {
				driver = d
				break
			}
		}
		if driver == nil {
			continue
		}
		if _, err := s.svc.Loads.Book(ctx, carrier, loads.BookingInput{LoadID: l.ID, DriverID: driver.ID, TruckID: driver.TruckID}); err != nil {
			return fmt.Errorf("demo booking: %w", err)
		}
		for _, st := range path {
			if _, err := s.svc.Loads.SetStatus(ctx, carrier, l.ID, loads.StatusInput{Status: st}); err != nil {
				return fmt.Errorf("demo status %s: %w", st, err)
			}
		}
	}
	return nil
}
