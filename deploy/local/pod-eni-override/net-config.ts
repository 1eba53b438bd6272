// net-config with pod ENIs on (on.ts, imported first: it runs before the service's main).
import "./on.ts";
import "../../../services/net-config/main.ts";
