"""ss7tools: SS7-over-IP (SIGTRAN) capture and traffic tools."""
