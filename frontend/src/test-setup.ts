// Unit tests run on shared, busy machines: findBy*/waitFor get 5 s (the
// library's default is 1 s) before they give up, and a test 20 s.
import { configure } from "@testing-library/react";

configure({ asyncUtilTimeout: 5000 });
