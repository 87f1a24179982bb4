//! The sample parking lot of `bolink demo` and `bolink lot`: a charging
//! system that knows which cars are in, charges by the started hour, and
//! admits unplated cars by QR code.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bolink_sdk::{Answer, Handler, Refusal};
use bolink_types::enums::State;
use bolink_types::sdk::{nolicence_in_park, prepay_order, query_price};
use bolink_types::{Money, UnixSeconds};

/// A car the lot has let in.
#[derive(Debug, Clone)]
pub struct Car {
    pub order_id: String,
    pub in_time: UnixSeconds,
    /// What the driver prepaid through Bolink.
    pub prepaid: Money,
}

/// The lot's books, shared between its upload code and its handler.
#[derive(Debug, Default)]
pub struct Books {
    pub cars: BTreeMap<String, Car>,
    next_order: u32,
}

impl Books {
    /// Lets a car in and opens its order.
    pub fn enter(&mut self, car_number: &str, in_time: UnixSeconds) -> Car {
        self.next_order += 1;
        let order_id = format!("demo-{:04}", self.next_order);
        self.enter_as(car_number, &order_id, in_time)
    }

    /// Lets a car in under a given order id.
    pub fn enter_as(&mut self, car_number: &str, order_id: &str, in_time: UnixSeconds) -> Car {
        let car = Car {
            order_id: order_id.to_string(),
            in_time,
            prepaid: Money::from_cents(0),
        };
        self.cars.insert(car_number.to_string(), car.clone());
        car
    }
}

/// The handler the SDK calls for Bolink's downstream requests.
#[derive(Debug, Clone, Default)]
pub struct SampleLot {
    pub books: Arc<Mutex<Books>>,
}

/// 5.00 per started hour, less what was prepaid (never below zero).
pub fn price_of(minutes: i64, prepaid: Money) -> Money {
    let hours = (minutes + 59) / 60;
    let fee = Money::from_cents(500 * hours.max(1));
    Money::from_decimal((fee.to_decimal() - prepaid.to_decimal()).max(0.into()))
}

impl SampleLot {
    pub fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Handler for SampleLot {
    async fn query_price(&self, request: query_price::Request) -> Answer<query_price::HttpReturn> {
        let plate = request.car_number.clone().unwrap_or_default();
        let car = self
            .books()
            .cars
            .get(&plate)
            .cloned()
            .ok_or_else(|| Refusal::new(format!("{plate} is not in the lot")))?;
        let minutes = (UnixSeconds::now().get() - car.in_time.get()).max(0) / 60;
        let mut answer = query_price::HttpReturn::new(
            State::Success,
            minutes,
            request.park_id,
            car.order_id,
            price_of(minutes, car.prepaid),
        );
        answer.query_order_no = request.query_order_no;
        answer.car_number = Some(plate);
        answer.in_time = Some(car.in_time);
        answer.query_time = Some(UnixSeconds::now());
        Ok(answer)
    }

    async fn prepay_order(
        &self,
        request: prepay_order::Request,
    ) -> Answer<prepay_order::SdkReturn> {
        let mut books = self.books();
        let car = books
            .cars
            .values_mut()
            .find(|car| car.order_id == request.order_id)
            .ok_or_else(|| Refusal::new(format!("no order {}", request.order_id)))?;
        car.prepaid = Money::from_decimal(car.prepaid.to_decimal() + request.prepay.to_decimal());
        let mut answer = prepay_order::SdkReturn::new(State::Success);
        answer.park_id = Some(request.park_id);
        answer.order_id = Some(request.order_id);
        answer.prepay = Some(request.prepay);
        answer.query_time = Some(request.query_time);
        Ok(answer)
    }

    async fn nolicence_in_park(
        &self,
        request: nolicence_in_park::Request,
    ) -> Answer<nolicence_in_park::HttpReturn> {
        // The platform's "plate" for an unplated car identifies the driver.
        self.books().enter(&request.car_number, request.timetemp);
        Ok(nolicence_in_park::HttpReturn::new(
            State::Success,
            request.car_number,
            request.timetemp,
        ))
    }
}
