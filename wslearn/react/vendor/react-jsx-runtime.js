/* wslearn vendor bundle (development builds), made by web/build.mjs from web/package-lock.json: react@19.3.1, react-dom@19.3.1, scheduler@0.28.0, @tanstack/react-query@5.108.4, @tanstack/query-core@5.108.4, sucrase@3.35.1, @babel/parser@8.1.3. Licences: LICENSES/. */
import {
  require_jsx_runtime
} from "./chunk-6QNJV4DL.js";
import "./chunk-LHEAZ7JP.js";
import {
  __toESM
} from "./chunk-HRNVTDXF.js";

// node_modules/.wslearn-entries/react-jsx-runtime.js
var import_jsx_runtime = __toESM(require_jsx_runtime());
var react_jsx_runtime_default = import_jsx_runtime.default;
var { Fragment, jsx, jsxs } = import_jsx_runtime.default;
export {
  Fragment,
  react_jsx_runtime_default as default,
  jsx,
  jsxs
};
