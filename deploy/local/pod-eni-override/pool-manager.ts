// pool-manager with pod ENIs on (on.ts, imported first: it runs before the service's main).
import "./on.ts";
import "../../../services/pool-manager/main.ts";
