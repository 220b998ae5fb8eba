// The account page's second factors and passkeys (API.md §9): the second step of a sign-in, the
// factor list, TOTP enrolment with its QR code, passkeys (added, used to sign in alone, offered
// in the email field's autofill, used as the second step and to confirm it's you), recovery
// codes, and "confirm it's you" when a change needs a recent (aal2) sign-in. account.js mounts
// it and hands over what both draw with.

/**
 * Wires the MFA parts of the page. `ui`: { $, client, show, message, showAccount, loadSessions }.
 * Returns { secondStep(problem), load(), reset() }.
 */
export function mountMfa({ $, client, show, message, showAccount, loadSessions }) {
  let mfaToken = null;
  let recovery = false; // the second step takes a recovery code instead of the app's
  let hasFactor = false;
  let hasPasskey = false;
  const passkeys = typeof window.PublicKeyCredential === "function";
  let autofill = null; // the conditional (autofill) passkey request waiting, if any
  let pending = null; // the enrolment shown, { id }
  let retry = null; // what to do again once the user has confirmed it's them

  const say = (id, text) => {
    $(id).textContent = text;
    $(id).hidden = !text;
  };

  // --- The second step of a sign-in --------------------------------------------------------

  function drawSecond() {
    $("second-lead").textContent = recovery
      ? "Enter one of the recovery codes you saved. Each works once."
      : "Enter the six-digit code from your authenticator app.";
    $("second-label").textContent = recovery ? "Recovery code" : "Code from your app";
    $("second-code").inputMode = recovery ? "text" : "numeric";
    $("second-switch").textContent = recovery ? "Use your authenticator app instead" : "Use a recovery code instead";
    $("second-code").value = "";
    say("second-error", "");
    $("second-code").focus();
  }

  /** After `mfa_required`: the password was right; ask for the second factor. */
  function secondStep(problem) {
    mfaToken = problem.mfaToken;
    const kinds = new Set((problem.factors || []).map((f) => f.type));
    // No app: recovery codes are the other way in.
    recovery = !kinds.has("totp");
    $("second-switch").hidden = recovery;
    $("second-passkey-way").hidden = !(passkeys && kinds.has("passkey"));
    show("second");
    drawSecond();
  }

  $("second-passkey").addEventListener("click", async () => {
    say("second-error", "");
    $("second-passkey").disabled = true;
    try {
      await client.verifyMfaWithPasskey({ mfaToken });
      mfaToken = null;
    } catch (e) {
      if (e.code === "invalid_mfa_token") {
        mfaToken = null;
        show("signin", message(e));
      } else say("second-error", passkeyMessage(e));
    } finally {
      $("second-passkey").disabled = false;
    }
  });

  // --- Passkeys: sign in with one alone ------------------------------------------------------

  /** What to say when a passkey ceremony fails: the browser's refusals are the user's choice. */
  function passkeyMessage(e) {
    if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) return "The passkey was not used. Try again, or sign in another way.";
    if (e && e.code === "invalid_credentials") return "That passkey could not be verified. Try again, or sign in another way.";
    return message(e);
  }

  /** Offers passkeys in the email field's autofill, where the browser can (once per page). */
  async function offerAutofill() {
    if (!passkeys || autofill || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!(await PublicKeyCredential.isConditionalMediationAvailable().catch(() => false))) return;
    autofill = new AbortController();
    client.signInWithPasskey({ mediation: "conditional", signal: autofill.signal }).then(
      () => (autofill = null),
      (e) => {
        // Aborted for the button, or passkeys off on this server: nothing to say. A verified
        // failure is worth a word.
        if (e && e.code === "invalid_credentials") {
          $("signin-error").textContent = passkeyMessage(e);
          $("signin-error").hidden = false;
        }
        if (e && e.code === "passkeys_not_configured") $("passkey-way").hidden = true;
      },
    );
  }

  function stopAutofill() {
    autofill?.abort();
    autofill = null;
  }

  /** The sign-in card is up: offer the passkey way. */
  function signinShown() {
    $("passkey-way").hidden = !passkeys;
    offerAutofill();
  }

  $("passkey-signin").addEventListener("click", async () => {
    stopAutofill(); // one request at a time: the button's replaces the autofill's
    $("signin-error").hidden = true;
    $("passkey-signin").disabled = true;
    try {
      await client.signInWithPasskey({});
    } catch (e) {
      $("signin-error").textContent = passkeyMessage(e);
      $("signin-error").hidden = false;
      if (e.code === "passkeys_not_configured") $("passkey-way").hidden = true;
    } finally {
      $("passkey-signin").disabled = false;
    }
  });

  $("second-switch").addEventListener("click", () => {
    recovery = !recovery;
    drawSecond();
  });
  $("second-back").addEventListener("click", () => {
    mfaToken = null;
    show("signin");
  });

  $("second-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = $("second-code").value.trim();
    if (!code) return say("second-error", "Please enter the code.");
    $("second-submit").disabled = true;
    try {
      await client.verifyMfa({ mfaToken, code });
      mfaToken = null; // the signedIn event draws the account
    } catch (e) {
      if (e.code === "invalid_mfa_token") {
        mfaToken = null;
        show("signin", message(e));
      } else say("second-error", message(e));
    } finally {
      $("second-submit").disabled = false;
    }
  });

  // --- Confirm it's you (a change that needs a recent, aal2 sign-in) -------------------------

  /** Runs `action`; if Tessera wants a fresh sign-in first, asks for it, then runs it again. */
  async function guarded(action) {
    say("mfa-error", "");
    try {
      await action();
    } catch (e) {
      if (e.code !== "insufficient_user_authentication") return failed(e);
      retry = action;
      $("confirm-code-wrap").hidden = !hasFactor;
      $("confirm-passkey-way").hidden = !(passkeys && hasPasskey);
      $("confirm-password").value = "";
      $("confirm-code").value = "";
      say("confirm-error", "");
      show("confirm");
      $("confirm-password").focus();
    }
  }

  function failed(e) {
    if (e && e.status === 401 && e.code !== "invalid_mfa_code") return; // the session ended: onChange shows why
    say("mfa-error", message(e));
  }

  $("confirm-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const password = $("confirm-password").value;
    const code = $("confirm-code").value.trim();
    if (!password || (hasFactor && !code)) return say("confirm-error", "Please fill in every field.");
    $("confirm-submit").disabled = true;
    try {
      await client.reauthenticate({ password, code: hasFactor ? code : undefined });
      $("confirm-password").value = "";
      const again = retry;
      retry = null;
      show("account");
      if (again) await guarded(again);
    } catch (e) {
      say("confirm-error", message(e));
    } finally {
      $("confirm-submit").disabled = false;
    }
  });
  $("confirm-passkey").addEventListener("click", async () => {
    say("confirm-error", "");
    $("confirm-passkey").disabled = true;
    try {
      await client.reauthenticateWithPasskey();
      const again = retry;
      retry = null;
      show("account");
      if (again) await guarded(again);
    } catch (e) {
      say("confirm-error", passkeyMessage(e));
    } finally {
      $("confirm-passkey").disabled = false;
    }
  });

  $("confirm-back").addEventListener("click", () => {
    retry = null;
    showAccount();
  });

  // --- Factors ---------------------------------------------------------------------------

  async function load() {
    const factors = (await client.factors()).filter((f) => f.confirmed);
    hasFactor = factors.length > 0;
    hasPasskey = factors.some((f) => f.type === "passkey");
    $("add-passkey").hidden = !passkeys;
    $("mfa-state").textContent = hasFactor
      ? hasPasskey
        ? "On: sign in with a passkey, or with your password and a second factor."
        : "On: signing in needs your password and a code from your app."
      : "Off: your password alone signs you in. Add an authenticator app to protect your account.";
    const list = $("factors");
    list.replaceChildren();
    for (const f of factors) {
      const row = $("factor-row").content.firstElementChild.cloneNode(true);
      row.dataset.id = f.id;
      row.querySelector(".name").textContent = f.name;
      row.querySelector(".kind").textContent = f.type === "passkey" ? "Passkey" : "Authenticator app";
      row.querySelector(".used").textContent = f.last_used_at
        ? `Last used ${new Date(f.last_used_at).toLocaleString()}`
        : `Added ${new Date(f.created_at).toLocaleDateString()}`;
      const remove = row.querySelector(".remove");
      remove.setAttribute("aria-label", `Remove ${f.name}`);
      remove.addEventListener("click", () => guarded(() => removeFactor(f, remove)));
      list.append(row);
    }
    list.hidden = !hasFactor;
    $("new-codes").hidden = !hasFactor;
  }

  async function removeFactor(f, button) {
    button.disabled = true;
    try {
      await client.removeFactor(f.id);
      await load();
      say("account-notice", `${f.name} was removed.`);
    } finally {
      button.disabled = false;
    }
  }

  function showCodes(codes) {
    $("codes-list").replaceChildren(...codes.map((c) => Object.assign(document.createElement("li"), { textContent: c })));
    $("codes").hidden = false;
    $("codes-done").focus();
  }
  $("codes-done").addEventListener("click", () => {
    $("codes-list").replaceChildren(); // off the page once saved
    $("codes").hidden = true;
  });

  $("add-totp").addEventListener("click", () =>
    guarded(async () => {
      const e = await client.enrollTotp();
      pending = { id: e.factor.id };
      // An image, not markup: an SVG shown through <img> runs nothing.
      $("enrol-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(e.qr_svg)}`;
      $("enrol-secret").textContent = e.secret.replace(/(.{4})/g, "$1 ").trim();
      $("enrol-code").value = "";
      say("enrol-error", "");
      $("enrol").hidden = false;
      $("add-totp").hidden = true;
      $("enrol-code").focus();
    }),
  );

  function closeEnrol() {
    $("enrol").hidden = true;
    $("enrol-qr").removeAttribute("src");
    $("enrol-secret").textContent = "";
    $("add-totp").hidden = false;
    pending = null;
  }

  $("enrol-cancel").addEventListener("click", () => {
    // The pending factor would expire on its own; removing it now is tidier.
    if (pending) client.removeFactor(pending.id).catch(() => {});
    closeEnrol();
  });

  $("enrol-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const code = $("enrol-code").value.replace(/\s/g, "");
    if (!code) return say("enrol-error", "Please enter the code your app shows.");
    $("enrol-submit").disabled = true;
    try {
      const out = await client.confirmTotp(pending.id, code);
      closeEnrol();
      await load();
      say("account-notice", out.recovery_codes
        ? "Two-step verification is on. Your other devices were signed out."
        : "The authenticator app was added.");
      if (out.recovery_codes) {
        showCodes(out.recovery_codes);
        await loadSessions(); // the first factor ended the other sessions
      }
    } catch (e) {
      say("enrol-error", message(e));
    } finally {
      $("enrol-submit").disabled = false;
    }
  });

  $("add-passkey").addEventListener("click", () =>
    guarded(async () => {
      let out;
      try {
        out = await client.registerPasskey();
      } catch (e) {
        if (e.code === "insufficient_user_authentication") throw e;
        return say("mfa-error", passkeyMessage(e));
      }
      await load();
      say("account-notice", out.recovery_codes
        ? "Passkey added: two-step verification is on. Your other devices were signed out."
        : "Passkey added.");
      if (out.recovery_codes) {
        showCodes(out.recovery_codes);
        await loadSessions();
      }
    }),
  );

  $("new-codes").addEventListener("click", () =>
    guarded(async () => {
      showCodes(await client.newRecoveryCodes());
      say("account-notice", "New recovery codes: the old ones no longer work.");
    }),
  );

  /** Signed out: nothing secret stays in the page. */
  function reset() {
    hasFactor = false;
    hasPasskey = false;
    mfaToken = null;
    retry = null;
    closeEnrol();
    $("codes-list").replaceChildren();
    $("codes").hidden = true;
    say("mfa-error", "");
  }

  return { secondStep, load, reset, signinShown, stopAutofill };
}
