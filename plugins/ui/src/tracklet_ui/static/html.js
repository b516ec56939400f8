// The one place page modules get Preact, its hooks and htm's `html` tag from.
export {
  html,
  render,
  h,
  Component,
  createContext,
  useState,
  useEffect,
  useMemo,
  useRef,
  useCallback,
  useLayoutEffect,
  useContext,
  useReducer,
} from "./vendor/standalone.module.js";
