// The card form: stripe.js (Stripe Elements) collects the card and confirms the SetupIntent in the
// browser; only the SetupIntent's id is posted to Cloustral.
(function () {
  "use strict";
  const form = document.getElementById("card-form");
  if (!form) return;
  const errors = document.getElementById("card-errors");
  const button = document.getElementById("card-submit");
  const showError = (message) => {
    errors.textContent = message || "The card could not be confirmed.";
    errors.hidden = false;
    button.disabled = false;
  };
  if (typeof window.Stripe !== "function") {
    showError("The payment form could not load. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }
  const stripe = window.Stripe(form.dataset.publishableKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  let confirmed = false;
  form.addEventListener("submit", async (event) => {
    if (confirmed) return;
    event.preventDefault();
    button.disabled = true;
    errors.hidden = true;
    const result = await stripe.confirmCardSetup(form.dataset.clientSecret, { payment_method: { card } });
    if (result.error) {
      showError(result.error.message);
      return;
    }
    form.elements.namedItem("setup_intent").value = result.setupIntent.id;
    confirmed = true;
    form.submit();
  });
})();
