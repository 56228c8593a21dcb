// Package freight is Backhaul's domain vocabulary: organizations and roles,
// loads and their status machine, carriers, drivers, trucks, bookings,
// equipment, hours of service and money. It is pure: it imports no database,
// HTTP or message bus, so every service can share it and tests can reason
// about it without infrastructure.
package freight
