// sim: the capacity-planning simulation harness (F28). Describes sites, data volumes, change
// rates, schedules, retention and links; simulates days to years and reports storage,
// backup windows and replication lag. It may import node, chunkstore or crypto for
// calibration; nothing imports sim. Filled by a later issue; nothing here yet.
export {}
