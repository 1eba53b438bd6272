/**
 * TEMPORARY, local deployment only: turns pod ENIs on in the typed configuration of the service
 * whose entry imports this first (the entries beside it), because ENABLE_POD_ENI=true is still
 * refused at start-up. No variable reaches it; this directory goes with the refusal.
 */
import { localPodEniOverride } from "../../../shared/bootstrap.ts";

localPodEniOverride.on = true;
