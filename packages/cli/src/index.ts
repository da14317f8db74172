export { main, EXIT } from "./main.js";
