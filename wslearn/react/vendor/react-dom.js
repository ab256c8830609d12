/* wslearn vendor bundle (development builds), made by web/build.mjs from web/package-lock.json: react@19.3.1, react-dom@19.3.1, scheduler@0.28.0, @tanstack/react-query@5.108.4, @tanstack/query-core@5.108.4, sucrase@3.35.1, @babel/parser@8.1.3. Licences: LICENSES/. */
import {
  require_react_dom
} from "./chunk-C5OL2UQF.js";
import "./chunk-LHEAZ7JP.js";
import {
  __toESM
} from "./chunk-HRNVTDXF.js";

// node_modules/.wslearn-entries/react-dom.js
var import_react_dom = __toESM(require_react_dom());
var react_dom_default = import_react_dom.default;
var { __DOM_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE, browser, createPortal, flushSync, preconnect, prefetchDNS, preinit, preinitModule, preload, preloadModule, requestFormReset, unstable_batchedUpdates, useFormState, useFormStatus, version } = import_react_dom.default;
export {
  __DOM_INTERNALS_DO_NOT_USE_OR_WARN_USERS_THEY_CANNOT_UPGRADE,
  browser,
  createPortal,
  react_dom_default as default,
  flushSync,
  preconnect,
  prefetchDNS,
  preinit,
  preinitModule,
  preload,
  preloadModule,
  requestFormReset,
  unstable_batchedUpdates,
  useFormState,
  useFormStatus,
  version
};
