// @ts-check
// The status page's files, handed to the core, which serves them at /dashboard,
// /dashboard/app.js and /dashboard/app.css (cpp/src/routing/dashboard.hpp).
import { page } from "./page.js";
import { script } from "./script.js";
import { style } from "./style.js";

/** @type {import("../../../shims/driver.js").DashboardFiles} */
export const dashboard = { page, script, style };
