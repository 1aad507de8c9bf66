"""The Comarch lab: Comarch ERP sites on the K2 lab's PostgreSQL cluster, with a stand-in
Automatic Operations Service and a loopback HTTP endpoint playing the HRM domain."""
